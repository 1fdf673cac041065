// The password strength meter: the same common-password list the server refuses from (GET /api/password-list, fetched
// when a new-password field is first used), and a rough estimate of how many guesses the rest would take. Advice only:
// the server decides.

import { loadConfig } from './api.js';
import { characterCount } from './password.js';

let listPromise = null;
function loadList() {
  if (!listPromise) {
    listPromise = fetch('/api/password-list', { credentials: 'same-origin' })
      .then((response) => (response.ok ? response.text() : Promise.reject(new Error('list'))))
      .then((text) => new Set(text.split('\n')))
      .catch(() => { listPromise = null; return new Set(); });
  }
  return listPromise;
}

/** The server's rule (CommonPasswords.isCommon): listed, listed with at most six digits or symbols around it, or one repeated character. */
export function isCommon(password, list) {
  const lower = password.toLowerCase();
  if (list.has(lower) || new Set(lower).size <= 1) return true;
  const core = lower.replace(/^[^\p{L}]+|[^\p{L}]+$/gu, '');
  return [...core].length >= 4 && [...lower].length - [...core].length <= 6 && list.has(core);
}

const LEVELS = ['Too weak', 'Weak', 'Fair', 'Good', 'Strong'];

/** { level 0–4, words } for a candidate password; null for an empty one. */
export function strength(password, list, min) {
  if (!password) return null;
  if (min != null && characterCount(password) < min) return { level: 0, words: `too short (at least ${min} characters)` };
  if (isCommon(password, list)) return { level: 0, words: 'too common, easy to guess' };
  let pool = 0;
  if (/[a-z]/.test(password)) pool += 26;
  if (/[A-Z]/.test(password)) pool += 26;
  if (/[0-9]/.test(password)) pool += 10;
  if (/[^A-Za-z0-9]/.test(password)) pool += 33;
  const characters = [...password];
  // Repeats add little: count at most two per distinct character.
  const effective = Math.min(characters.length, new Set(characters).size * 2);
  const bits = effective * Math.log2(Math.max(pool, 2));
  const level = bits < 40 ? 1 : bits < 60 ? 2 : bits < 80 ? 3 : 4;
  return { level, words: LEVELS[level].toLowerCase() };
}

/** Puts a meter and its words (read out by screen readers) right after a new-password input. */
export function attachMeter(input) {
  const meter = document.createElement('meter');
  Object.assign(meter, { min: 0, max: 4, low: 2, high: 3, optimum: 4, value: 0, hidden: true, id: `${input.id}-meter`, className: 'strength' });
  const words = document.createElement('span');
  Object.assign(words, { id: `${input.id}-strength`, className: 'strength-words hint' });
  words.setAttribute('aria-live', 'polite');
  input.insertAdjacentElement('afterend', words);
  input.insertAdjacentElement('afterend', meter);
  const update = async () => {
    const [list, config] = await Promise.all([loadList(), loadConfig()]);
    const result = strength(input.value, list, config?.passwordMinLength ?? null);
    meter.hidden = !result;
    meter.value = result ? result.level : 0;
    words.textContent = result ? `Strength: ${result.words}` : '';
  };
  input.addEventListener('focus', loadList, { once: true });
  input.addEventListener('input', update);
  input.form?.addEventListener('reset', () => setTimeout(update, 0));
}
