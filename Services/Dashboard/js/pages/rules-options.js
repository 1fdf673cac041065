// The rule form's "Options" section: quick replies (up to 13) or buttons (up to 3) under the reply, each answered by a
// rule the business chooses (next_rule_id), and a preview of the reply as the customer sees it. Built here, not in
// index.html; rules-form.js fills it (fillOptions) and adds its fields to the body it sends (optionsBody).

import { $, $$, el } from '../dom.js';
import { formError } from '../api.js';
import { attachCounters } from '../counters.js';
import { characterCount } from '../password.js';

const LIMITS = { quick_replies: 13, buttons: 3 };
const TITLE_MAX = 20;
const REPLY_MAX = { buttons: 640, other: 1000 };
const KIND_WORDS = { quick_replies: ['quick reply', 'quick replies'], buttons: ['button', 'buttons'] };

let choices = []; // the account's rules, as GET /api/rules lists them
let editing = null; // the id of the rule in the form, or null when adding
let rowCounter = 0;

const kind = () => $('#rule-option-kind').value;

/** "3 quick replies", "1 button". */
export function optionsCount(rule) {
  for (const key of ['quick_replies', 'buttons']) {
    const n = (rule && rule[key] ? rule[key] : []).length;
    if (n) return `${n} ${KIND_WORDS[key][n === 1 ? 0 : 1]}`;
  }
  return '';
}

/** A rule in a list of choices: its first keywords, else the start of its reply. */
export function ruleLabel(rule) {
  const keywords = (rule.keywords || []).slice(0, 3).join(', ');
  const reply = String(rule.reply || '').replace(/\s+/g, ' ').trim();
  const start = reply.length > 40 ? `${reply.slice(0, 39)}…` : reply;
  return keywords ? `“${keywords}”: ${start}` : start || 'A rule without keywords';
}

/** The rules an option may lead to (rules.js sets them each time it reads the list). */
export function setOptionRules(rules) { choices = rules || []; }

function ruleSelect(id, selected) {
  const select = el('select', { id, className: 'option-next' },
    el('option', { value: '', text: 'Choose a rule…' }));
  for (const rule of choices) {
    let text = ruleLabel(rule);
    if (rule.id === editing) text = `This rule (back to it): ${text}`;
    else if (!rule.enabled) text += ' (off)';
    select.append(el('option', { value: rule.id, text }));
  }
  select.value = choices.some((r) => r.id === selected) ? selected : '';
  return select;
}

function addRow(option = { title: '', next_rule_id: '' }) {
  const rows = $('#rule-option-rows');
  const n = ++rowCounter;
  const title = el('input', { id: `rule-option-title-${n}`, type: 'text', className: 'option-title', autocomplete: 'off', dataset: { max: String(TITLE_MAX) } });
  title.value = option.title || '';
  const next = ruleSelect(`rule-option-next-${n}`, option.next_rule_id);
  const remove = el('button', { type: 'button', className: 'secondary small option-remove', text: 'Remove' });
  const row = el('li', { className: 'option-row' },
    el('label', { for: title.id, className: 'option-title-label' }), title,
    el('label', { for: next.id, text: 'Answered by the rule' }), next, remove);
  remove.addEventListener('click', () => {
    const after = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    update();
    ($('.option-title', after || document) || $('#rule-option-add')).focus();
  });
  title.addEventListener('input', drawPreview);
  rows.append(row);
  attachCounters(row);
  return row;
}

/** Numbers the rows, the add button's state, the reply's limit, and the preview. */
function update() {
  const k = kind();
  const rows = $$('#rule-option-rows .option-row');
  const word = k === 'buttons' ? 'Button' : 'Quick reply';
  rows.forEach((row, i) => {
    $('.option-title-label', row).textContent = `${word} ${i + 1}: the words on it`;
    $('.option-remove', row).setAttribute('aria-label', `Remove ${word.toLowerCase()} ${i + 1}`);
  });
  const none = k === 'none';
  $('#rule-option-rows').hidden = none;
  const add = $('#rule-option-add');
  add.hidden = none;
  if (!none) {
    const full = rows.length >= LIMITS[k];
    add.disabled = full;
    add.textContent = full ? `Instagram allows at most ${LIMITS[k]} ${KIND_WORDS[k][1]}` : 'Add option';
  }
  // The fieldset is where the server's errors about the options are shown (feedback.js finds it by data-field).
  $('#rule-options').dataset.field = k === 'buttons' ? 'buttons' : 'quick_replies';
  const reply = $('#rule-reply');
  const max = String(k === 'buttons' ? REPLY_MAX.buttons : REPLY_MAX.other);
  if (reply.dataset.max !== max) {
    reply.dataset.max = max;
    reply.dispatchEvent(new Event('input'));
  }
  drawPreview();
}

/** The reply as the customer would see it, with its options under it. */
function drawPreview() {
  const text = $('#rule-reply').value.trim().replaceAll('{username}', 'jane_doe');
  const k = kind();
  const titles = k === 'none' ? [] : $$('#rule-option-rows .option-title').map((i) => i.value.trim() || '…');
  const bubble = el('p', { className: text ? 'preview-bubble' : 'preview-bubble muted', text: text || 'Your reply appears here.' });
  const parts = [el('p', { className: 'preview-label', text: 'Preview: what the customer sees' }), bubble];
  if (titles.length && k === 'buttons') {
    bubble.classList.add('with-buttons');
    parts.push(el('ul', { className: 'preview-buttons', 'aria-label': 'Buttons' }, ...titles.map((t) => el('li', { text: t }))));
  } else if (titles.length) {
    parts.push(el('ul', { className: 'preview-chips', 'aria-label': 'Quick replies' }, ...titles.map((t) => el('li', { text: t }))));
  }
  $('#rule-preview').replaceChildren(...parts);
}

function kindChanged() {
  if (kind() !== 'none' && !$$('#rule-option-rows .option-row').length) addRow();
  update();
}

/** Fills the section for `rule` (null: a new rule). */
export function fillOptions(rule) {
  editing = rule ? rule.id : null;
  rowCounter = 0;
  $('#rule-option-rows').replaceChildren();
  const quick = (rule && rule.quick_replies) || [];
  const buttons = (rule && rule.buttons) || [];
  const k = quick.length ? 'quick_replies' : buttons.length ? 'buttons' : 'none';
  $('#rule-option-kind').value = k;
  for (const option of k === 'buttons' ? buttons : quick) addRow(option);
  update();
}

/** `{ quick_replies, buttons }` for the request (both always, one empty), or a form error next to the field. */
export function optionsBody() {
  const k = kind();
  const body = { quick_replies: [], buttons: [] };
  if (k === 'none') return body;
  const rows = $$('#rule-option-rows .option-row');
  const words = KIND_WORDS[k];
  if (!rows.length) throw formError(`Add a ${words[0]}, or choose “Nothing” above.`, $('#rule-option-kind'));
  if (rows.length > LIMITS[k]) {
    throw formError(`Use at most ${LIMITS[k]} ${words[1]} (this has ${rows.length}). Remove some, or choose quick replies.`, $('#rule-option-kind'));
  }
  for (const row of rows) {
    const input = $('.option-title', row);
    const title = input.value.trim();
    if (!title) throw formError(`Write the words on this ${words[0]}.`, input);
    const n = characterCount(title);
    if (n > TITLE_MAX) throw formError(`Keep it to ${TITLE_MAX} characters: this has ${n}.`, input);
    const next = $('.option-next', row);
    if (!next.value) throw formError(`Choose the rule that answers “${title}”.`, next);
    body[k].push({ title, next_rule_id: next.value });
  }
  return body;
}

/** Builds the section after the reply's hint and wires it. */
export function setupRuleOptions() {
  const select = el('select', { id: 'rule-option-kind', 'aria-describedby': 'rule-option-kind-hint' },
    el('option', { value: 'none', text: 'Nothing: just the reply' }),
    el('option', { value: 'quick_replies', text: `Quick replies: up to ${LIMITS.quick_replies} choices that go away once one is tapped` }),
    el('option', { value: 'buttons', text: `Buttons: up to ${LIMITS.buttons} buttons that stay under the reply` }));
  const add = el('button', { type: 'button', id: 'rule-option-add', className: 'secondary small', text: 'Add option' });
  const section = el('fieldset', { id: 'rule-options', className: 'rule-options', tabindex: '-1' },
    el('legend', { text: 'Options the customer can tap (optional)' }),
    el('label', { for: 'rule-option-kind', text: 'Under the reply, show' }), select,
    el('p', { id: 'rule-option-kind-hint', className: 'hint',
      text: `A tap is answered by the rule you choose, whatever its keywords; choose this rule itself for “back to the menu”. Titles have at most ${TITLE_MAX} characters. With buttons, the reply may have at most ${REPLY_MAX.buttons} characters. A new rule is in the list once it is saved.` }),
    el('ol', { id: 'rule-option-rows', className: 'option-rows' }), add);
  const preview = el('div', { id: 'rule-preview', className: 'rule-preview' });
  $('#rule-reply-hint').insertAdjacentElement('afterend', section);
  section.insertAdjacentElement('afterend', preview);
  select.addEventListener('change', kindChanged);
  add.addEventListener('click', () => {
    if ($$('#rule-option-rows .option-row').length >= LIMITS[kind()]) return;
    const row = addRow();
    update();
    $('.option-title', row).focus();
  });
  $('#rule-reply').addEventListener('input', drawPreview);
  fillOptions(null);
}
