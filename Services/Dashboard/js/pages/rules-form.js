// The rule form in a panel (a modal <dialog>): "Add a rule" opens it empty, a card's Edit opens it filled in. Focus moves
// into it; Escape or Cancel closes it and puts focus back on what opened it. Errors stay next to their field in the panel
// (busy()); a saved rule that rules tried before it already answer stays open with a warning under its keywords.
// The options a customer can tap under the reply (quick replies or buttons) are rules-options.js's part of the form.

import { $, el, notify } from '../dom.js';
import { api, busy, formError, report } from '../api.js';
import { clearFeedback } from '../feedback.js';
import { intValue, splitList } from '../format.js';
import { refreshCounters } from '../counters.js';
import { MATCH_TYPES } from '../words.js';
import { fillOptions, optionsBody, setupRuleOptions } from './rules-options.js';

// What each match type does, true to Shared/ReplyRules (TextNormalizer, RuleMatcher).
const HINTS = {
  contains: 'Answers when a keyword appears anywhere as whole words. Case, accents and punctuation do not matter: “price” matches “PRICE?” and “Café” matches “cafe”, but “cost” does not match “costs” or “costly”.',
  exact: 'Answers only when the whole message is one of the keywords, ignoring case, accents and punctuation: “hi” matches “Hi!” and “hi :)” but not “hi there”.',
  starts_with: 'Answers when the message begins with a keyword, in whole words: “hello” matches “Hello, are you open?” but not “Oh hello” or “Helloooo”.',
  any_word: 'The widest choice: answers when any single word of any keyword appears. “opening hours” answers “What are your hours?” and also “Opening soon?”.',
  regex: 'Each keyword is a regular expression (RE2), matched against the message as rules see it: lower case, accents dropped, punctuation and spaces turned into single spaces. Use ^ and $ to anchor it.',
};

let editingRuleId = null;
let returnTo = null; // what gets the focus back when the panel closes
let afterSave = async () => ({ rule: null, warning: '' });

/** The id of the rule in the panel, or null when adding. */
export const editingId = () => editingRuleId;

const showHandOff = () => {
  for (const node of document.querySelectorAll('.hand-off-field')) node.hidden = $('#rule-action').value !== 'hand_off';
};
const showHint = () => { $('#rule-match-type-hint').textContent = HINTS[$('#rule-match-type').value] || ''; };

function describedBy(input, id, add) {
  const ids = (input.getAttribute('aria-describedby') || '').split(/\s+/).filter((x) => x && x !== id);
  if (add) ids.push(id);
  input.setAttribute('aria-describedby', ids.join(' '));
}

function showWarning(text) {
  $('#rule-keywords-warning')?.remove();
  describedBy($('#rule-keywords'), 'rule-keywords-warning', Boolean(text));
  if (text) $('#rule-keywords-hint').insertAdjacentElement('afterend', el('p', { id: 'rule-keywords-warning', className: 'field-warning', role: 'status', text }));
}

function fill(rule) {
  editingRuleId = rule ? rule.id : null;
  const form = $('#rule-form');
  form.reset();
  clearFeedback(form);
  showWarning('');
  $('#rule-keywords').value = rule ? (rule.keywords || []).join(', ') : '';
  $('#rule-match-type').value = (rule && rule.match_type) || 'contains';
  $('#rule-trigger').value = (rule && rule.trigger) || 'message';
  $('#rule-action').value = (rule && rule.action) || 'reply';
  $('#rule-hand-off-minutes').value = String((rule && rule.hand_off_minutes) || 60);
  showHandOff();
  $('#rule-negative').value = rule ? (rule.negative_keywords || []).join(', ') : '';
  $('#rule-reply').value = rule ? rule.reply || '' : '';
  $('#rule-priority').value = String(rule ? rule.priority ?? 0 : 0);
  $('#rule-enabled').checked = rule ? Boolean(rule.enabled) : true;
  $('#rule-form-title').textContent = rule ? 'Edit rule' : 'Add a rule';
  showHint();
  fillOptions(rule);
  refreshCounters(form);
}

/** Opens the panel for `rule` (null: a new one); `opener` gets the focus back when it closes. */
export function openRuleForm(rule, opener) {
  returnTo = opener || null;
  fill(rule);
  const panel = $('#rule-panel');
  if (!panel.open) panel.showModal();
  $('#rule-keywords').focus();
}

/** Closes the panel (focus goes to `focus`, else to what opened it). */
export function closeRuleForm(focus) {
  if (focus) returnTo = focus;
  const panel = $('#rule-panel');
  if (panel.open) panel.close();
}

function closed() {
  const id = editingRuleId;
  editingRuleId = null;
  clearFeedback($('#rule-form'));
  showWarning('');
  let target = returnTo && returnTo.isConnected ? returnTo : null;
  if (!target && id) target = document.getElementById(`rule-edit-${id}`);
  returnTo = null;
  (target || $('#rule-add')).focus();
}

async function saveRule() {
  const keywords = splitList($('#rule-keywords').value);
  const reply = $('#rule-reply').value;
  const trigger = $('#rule-trigger').value;
  if (!keywords.length && (trigger === 'message' || trigger === 'any')) throw formError('Add at least one keyword.', $('#rule-keywords'));
  if (!reply.trim()) throw formError('Write the reply Flowtalk should send.', $('#rule-reply'));
  const body = {
    keywords,
    match_type: $('#rule-match-type').value,
    trigger,
    action: $('#rule-action').value,
    negative_keywords: splitList($('#rule-negative').value),
    reply,
    priority: intValue($('#rule-priority'), 'Priority'),
    enabled: $('#rule-enabled').checked,
    ...optionsBody(),
  };
  if (body.action === 'hand_off') body.hand_off_minutes = intValue($('#rule-hand-off-minutes'), 'The time the bot stays quiet');
  const id = editingRuleId;
  showWarning('');
  let data;
  try {
    data = id ? await api('PUT', `/api/rules/${encodeURIComponent(id)}`, body) : await api('POST', '/api/rules', body);
  } catch (err) {
    if (err.code === 'not_found') {
      closeRuleForm();
      report(err);
      err.handled = true;
      await afterSave(null);
    }
    throw err;
  }
  notify(id ? 'Rule saved.' : 'Rule added.');
  const savedId = (data && data.rule && data.rule.id) || id;
  const { rule, warning } = await afterSave(savedId);
  if (!$('#rule-panel').open) return;
  if (warning && rule) {
    // Saved all the same: the panel stays open on the saved rule, so raising its priority is one edit away.
    fill(rule);
    showWarning(`Saved, but: ${warning}`);
    $('#rule-keywords').focus();
    return;
  }
  closeRuleForm(savedId ? document.getElementById(`rule-edit-${savedId}`) : null);
}

/** Wires the panel; `reload(id)` redraws the list and answers `{ rule, warning }` for the saved rule. */
export function setupRuleForm(reload) {
  afterSave = reload;
  setupRuleOptions();
  const select = $('#rule-match-type');
  for (const option of select.options) if (MATCH_TYPES[option.value]) option.textContent = MATCH_TYPES[option.value];
  select.addEventListener('change', showHint);
  $('#rule-action').addEventListener('change', showHandOff);
  $('#rule-add').addEventListener('click', (event) => openRuleForm(null, event.currentTarget));
  $('#rule-cancel').addEventListener('click', () => closeRuleForm());
  $('#rule-panel').addEventListener('close', closed);
  window.addEventListener('hashchange', () => closeRuleForm()); // another page: the panel does not follow
  $('#rule-form').addEventListener('submit', (event) => {
    event.preventDefault();
    busy(event.currentTarget, saveRule);
  });
  showHint();
}
