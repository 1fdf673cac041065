// "12 / 1,000 characters" under every field with a limit (data-max), counted as the server counts: characters as a
// person sees them (grapheme clusters), not bytes or UTF-16 units.

import { $$, el } from './dom.js';
import { characterCount } from './password.js';

function update(input, counter) {
  const max = Number(input.dataset.max);
  const n = characterCount(input.value.trim());
  counter.textContent = `${n.toLocaleString()} / ${max.toLocaleString()} characters`;
  counter.classList.toggle('over', n > max);
}

/** Adds the counter under one field (once). */
export function attachCounter(input) {
  if (input.dataset.counted) return;
  input.dataset.counted = '1';
  const counter = el('p', { id: `${input.id}-count`, className: 'counter', 'aria-live': 'polite' });
  input.insertAdjacentElement('afterend', counter);
  const ids = (input.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
  input.setAttribute('aria-describedby', [...ids, counter.id].join(' '));
  const refresh = () => update(input, counter);
  input.addEventListener('input', refresh);
  input.form?.addEventListener('reset', () => setTimeout(refresh));
  refresh();
}

/** Counters under every `[data-max]` field in `root`; `refreshCounters` after a page fills fields by script. */
export function attachCounters(root = document) {
  for (const input of $$('[data-max]', root)) attachCounter(input);
}

export function refreshCounters(root = document) {
  for (const input of $$('[data-max]', root)) input.dispatchEvent(new Event('input'));
}
