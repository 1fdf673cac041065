// The rules page: the list, the add/edit form, delete, and "try a message".

import { $, el, notify } from '../dom.js';
import { api, busy, formError, report } from '../api.js';
import { need } from '../feedback.js';
import { intValue, splitList } from '../format.js';
import { refreshCounters } from '../counters.js';
import { registerPage } from '../router.js';
import { MATCH_TYPES } from '../words.js';
import { markDone } from './onboarding.js';

let rules = [];
let editingRuleId = null;

async function loadRules() {
  const data = await api('GET', '/api/rules');
  rules = data.rules || [];
  renderRules();
}

function renderRules() {
  const list = $('#rules-list');
  list.replaceChildren();
  if (!rules.length) {
    list.append(el('li', { className: 'muted', text: 'No rules yet. Add your first one above.' }));
    return;
  }
  for (const rule of rules) list.append(ruleItem(rule));
}

function ruleItem(rule) {
  const keywords = el('ul', { className: 'rule-keywords', 'aria-label': 'Keywords' });
  for (const k of rule.keywords || []) keywords.append(el('li', { className: 'chip', text: k }));
  const meta = [MATCH_TYPES[rule.match_type] || rule.match_type, `Priority ${rule.priority ?? 0}`, rule.enabled ? 'On' : 'Off'];
  if (rule.negative_keywords && rule.negative_keywords.length) meta.push(`Not when: ${rule.negative_keywords.join(', ')}`);
  const label = (rule.keywords || []).join(', ');
  const edit = el('button', { type: 'button', className: 'secondary small', text: 'Edit', 'aria-label': `Edit rule ${label}` });
  const remove = el('button', { type: 'button', className: 'danger small', text: 'Delete', 'aria-label': `Delete rule ${label}` });
  edit.addEventListener('click', () => editRule(rule));
  remove.addEventListener('click', () => deleteRule(rule, remove));
  return el('li', { className: rule.enabled ? 'rule' : 'rule off', dataset: { ruleId: rule.id } },
    keywords,
    el('p', { className: 'rule-reply', text: rule.reply }),
    el('p', { className: 'rule-meta', text: meta.join(' · ') }),
    el('div', { className: 'actions' }, edit, remove));
}

function resetRuleForm() {
  editingRuleId = null;
  $('#rule-form').reset();
  $('#rule-priority').value = '0';
  $('#rule-enabled').checked = true;
  $('#rule-form-title').textContent = 'Add a rule';
  $('#rule-cancel').hidden = true;
  refreshCounters($('#rule-form'));
}

function editRule(rule) {
  editingRuleId = rule.id;
  $('#rule-keywords').value = (rule.keywords || []).join(', ');
  $('#rule-match-type').value = rule.match_type || 'contains';
  $('#rule-negative').value = (rule.negative_keywords || []).join(', ');
  $('#rule-reply').value = rule.reply || '';
  $('#rule-priority').value = String(rule.priority ?? 0);
  $('#rule-enabled').checked = Boolean(rule.enabled);
  $('#rule-form-title').textContent = 'Edit rule';
  $('#rule-cancel').hidden = false;
  refreshCounters($('#rule-form'));
  $('#rule-form').scrollIntoView({ block: 'start' });
  $('#rule-keywords').focus();
}

async function deleteRule(rule, button) {
  if (!window.confirm(`Delete the rule "${(rule.keywords || []).join(', ')}"?`)) return;
  button.disabled = true;
  try {
    await api('DELETE', `/api/rules/${encodeURIComponent(rule.id)}`, {});
    if (editingRuleId === rule.id) resetRuleForm();
    notify('Rule deleted.');
  } catch (err) {
    if (err.code !== 'not_found') report(err);
  } finally {
    button.disabled = false;
  }
  await loadRules().catch(report);
}

async function saveRule() {
  const keywords = splitList($('#rule-keywords').value);
  const reply = $('#rule-reply').value;
  if (!keywords.length) throw formError('Add at least one keyword.', $('#rule-keywords'));
  if (!reply.trim()) throw formError('Write the reply Flowtalk should send.', $('#rule-reply'));
  const body = {
    keywords,
    match_type: $('#rule-match-type').value,
    negative_keywords: splitList($('#rule-negative').value),
    reply,
    priority: intValue($('#rule-priority'), 'Priority'),
    enabled: $('#rule-enabled').checked,
  };
  const id = editingRuleId;
  try {
    if (id) await api('PUT', `/api/rules/${encodeURIComponent(id)}`, body);
    else await api('POST', '/api/rules', body);
  } catch (err) {
    if (err.code === 'not_found') { resetRuleForm(); await loadRules(); }
    throw err;
  }
  resetRuleForm();
  notify(id ? 'Rule saved.' : 'Rule added.');
  await loadRules();
}

async function tryMessage(text) {
  const result = $('#try-result');
  result.replaceChildren();
  const data = await api('POST', '/api/rules/test', { text });
  markDone('tried');
  const match = data && data.match;
  if (!match) {
    result.append(el('p', { text: 'No rule answers this — the AI (if on) or nobody will.' }));
    return;
  }
  result.append(
    el('p', {}, 'Answered by the rule with keyword ', el('strong', { text: `“${match.keyword}”` }), ':'),
    el('blockquote', { className: 'rule-reply', text: match.preview || match.reply }));
  if (match.reply.includes('{username}')) {
    result.append(el('p', { className: 'muted', text: 'The customer\'s Instagram username replaces {username}; here a sample name, jane_doe.' }));
  }
  if (match.explanation) result.append(el('p', { className: 'muted', text: `Why: ${match.explanation}` }));
}

export function setupRules() {
  registerPage('rules', { load: loadRules, reset: () => { rules = []; editingRuleId = null; } });
  $('#rule-cancel').addEventListener('click', resetRuleForm);
  $('#rule-form').addEventListener('submit', (event) => {
    event.preventDefault();
    busy(event.currentTarget, saveRule);
  });
  $('#try-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const text = $('#try-text').value;
    if (!text.trim()) { need(form, $('#try-text'), 'Type a message to try.'); return; }
    busy(form, () => tryMessage(text));
  });
}
