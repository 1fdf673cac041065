// The rules page: "try a message" at the top, then the list (rules-list.js: on/off switches, replies in the last 30
// days, warnings for keywords that can never answer), then "Add a rule", which opens the form in a panel (rules-form.js).

import { $, el, notify } from '../dom.js';
import { analytics, api, busy, friendly, report } from '../api.js';
import { clearFeedback, fieldError, need } from '../feedback.js';
import { TIME_ZONE, ymd } from '../format.js';
import { registerPage } from '../router.js';
import { markDone } from './onboarding.js';
import { closeRuleForm, editingId, openRuleForm, setupRuleForm } from './rules-form.js';
import { renderRules, ruleName, showHits } from './rules-list.js';
import { setOptionRules } from './rules-options.js';
import { findShadows, shadowWarning } from './rules-shadow.js';

let rules = [];
let hits = null; // Map of rule id → replies in the last 30 days; null while unknown
let hitsRequest = 0;

function draw() {
  renderRules(rules, { hits, shadows: findShadows(rules), onEdit: openRuleForm, onDelete: deleteRule, onToggle: toggleRule });
}

async function fetchRules() {
  const data = await api('GET', '/api/rules');
  rules = data.rules || [];
  setOptionRules(rules);
  draw();
}

/** One call to analytics for the last 30 days; without analytics the counts are left out. */
async function loadHits() {
  const id = ++hitsRequest;
  const today = new Date();
  const from = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 29);
  const query = new URLSearchParams({ from: ymd(from), to: ymd(today), tz: TIME_ZONE });
  let data = null;
  try {
    data = await analytics(`/api/stats?${query}`);
  } catch (err) {
    if (err.code === 'invalid_timezone') {
      query.set('tz', 'UTC');
      data = await analytics(`/api/stats?${query}`).catch(() => null);
    }
  }
  if (id !== hitsRequest) return;
  hits = data ? new Map((data.rules || []).map((r) => [String(r.rule_id).toLowerCase(), Number(r.hits) || 0])) : null;
  showHits(rules, hits);
}

function loadRules() {
  loadHits();
  return fetchRules();
}

/** After the panel saved: the list again, and the warning for the saved rule if rules before it answer for it. */
async function reloadAfterSave(id) {
  await fetchRules().catch(report);
  const rule = rules.find((r) => r.id === id) || null;
  return { rule, warning: rule && rule.enabled ? shadowWarning(rule, findShadows(rules)) : '' };
}

async function toggleRule(rule, input) {
  const card = input.closest('li');
  clearFeedback(card);
  input.disabled = true;
  const body = {
    keywords: rule.keywords, match_type: rule.match_type, negative_keywords: rule.negative_keywords || [],
    priority: rule.priority ?? 0, enabled: input.checked, reply: rule.reply, trigger: rule.trigger || 'message',
    action: rule.action || 'reply',
  };
  if (body.action === 'hand_off') body.hand_off_minutes = rule.hand_off_minutes || 60;
  try {
    const data = await api('PUT', `/api/rules/${encodeURIComponent(rule.id)}`, body);
    const saved = (data && data.rule) || { ...rule, enabled: body.enabled };
    rules = rules.map((r) => (r.id === rule.id ? saved : r));
    draw(); // other cards' warnings depend on which rules are on
    notify(`Rule “${ruleName(saved)}” turned ${saved.enabled ? 'on' : 'off'}.`);
    document.getElementById(`rule-switch-${rule.id}`)?.focus();
  } catch (err) {
    input.checked = !input.checked;
    input.disabled = false;
    if (err.code === 'not_found') { report(err); await fetchRules().catch(report); return; }
    if (!err.handled) fieldError(input, `Not saved: ${friendly(err)}`);
  } finally {
    input.disabled = false;
  }
}

async function deleteRule(rule, button) {
  if (!window.confirm(`Delete the rule "${ruleName(rule)}"?`)) return;
  button.disabled = true;
  try {
    await api('DELETE', `/api/rules/${encodeURIComponent(rule.id)}`, {});
    if (editingId() === rule.id) closeRuleForm();
    notify('Rule deleted.');
  } catch (err) {
    if (err.code !== 'not_found') report(err);
  } finally {
    button.disabled = false;
  }
  await fetchRules().catch(report);
  $('#rule-add').focus();
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
  // The options under the reply (titles, or { title } objects).
  const titles = (list) => (Array.isArray(list) ? list : []).map((o) => (typeof o === 'string' ? o : o && o.title)).filter(Boolean);
  for (const [key, name, className] of [['quick_replies', 'Quick replies', 'preview-chips'], ['buttons', 'Buttons', 'preview-buttons']]) {
    const list = titles(match[key]);
    if (list.length) result.append(el('ul', { className, 'aria-label': name }, ...list.map((t) => el('li', { text: t }))));
  }
  if (match.reply.includes('{username}')) {
    result.append(el('p', { className: 'muted', text: 'The customer\'s Instagram username replaces {username}; here a sample name, jane_doe.' }));
  }
  if (match.explanation) result.append(el('p', { className: 'muted', text: `Why: ${match.explanation}` }));
}

export function setupRules() {
  registerPage('rules', { load: loadRules, reset: () => { rules = []; setOptionRules([]); hits = null; hitsRequest += 1; closeRuleForm(); } });
  setupRuleForm(reloadAfterSave);
  $('#try-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const text = $('#try-text').value;
    if (!text.trim()) { need(form, $('#try-text'), 'Type a message to try.'); return; }
    busy(form, () => tryMessage(text));
  });
}
