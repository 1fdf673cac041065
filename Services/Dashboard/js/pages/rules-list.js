// The list of rules: a card each with an on/off switch that saves at once, the keywords and reply, the options under
// the reply ("2 quick replies"), how the rule matches in words, its replies in the last 30 days, and a warning when
// rules tried before it leave it nothing to answer.

import { $, $$, el } from '../dom.js';
import { MATCH_TYPES, TRIGGERS } from '../words.js';
import { optionsCount } from './rules-options.js';
import { shadowWarning } from './rules-shadow.js';

export const ruleName = (rule) => (rule.keywords || []).join(', ');

/** "12 replies in the last 30 days", or '' when the counts are unknown (analytics unavailable). */
export function hitsText(hits, rule) {
  if (!hits) return '';
  const n = hits.get(String(rule.id).toLowerCase()) || 0;
  if (n === 0) return 'No replies in the last 30 days';
  return `${n.toLocaleString()} ${n === 1 ? 'reply' : 'replies'} in the last 30 days`;
}

function ruleSwitch(rule, onToggle) {
  const id = `rule-switch-${rule.id}`;
  const input = el('input', { type: 'checkbox', role: 'switch', id, className: 'switch' });
  input.checked = Boolean(rule.enabled);
  input.addEventListener('change', () => onToggle(rule, input));
  return el('div', { className: 'check rule-switch' }, input,
    el('label', { for: id }, el('span', { className: 'sr-only', text: `Rule “${ruleName(rule)}”: ` }), 'answers messages'));
}

function ruleCard(rule, { hits, shadows, onEdit, onDelete, onToggle }) {
  const keywords = el('ul', { className: 'rule-keywords', 'aria-label': 'Keywords' });
  for (const k of rule.keywords || []) keywords.append(el('li', { className: 'chip', text: k }));
  const how = MATCH_TYPES[rule.match_type] || rule.match_type;
  const meta = [`Answers when the message: ${how.charAt(0).toLowerCase()}${how.slice(1)}`, `Priority ${rule.priority ?? 0}`];
  if (rule.trigger && rule.trigger !== 'message') meta.unshift(TRIGGERS[rule.trigger] || rule.trigger);
  if (rule.action === 'hand_off') meta.push(`Then hands the conversation to you for ${rule.hand_off_minutes} minutes`);
  if (rule.negative_keywords && rule.negative_keywords.length) meta.push(`Not when it contains: ${rule.negative_keywords.join(', ')}`);
  if (!rule.enabled) meta.push('Off: this rule answers nothing until you turn it on');
  const label = ruleName(rule);
  const edit = el('button', { type: 'button', id: `rule-edit-${rule.id}`, className: 'secondary small', text: 'Edit', 'aria-label': `Edit rule ${label}` });
  const remove = el('button', { type: 'button', className: 'danger small', text: 'Delete', 'aria-label': `Delete rule ${label}` });
  edit.addEventListener('click', () => onEdit(rule, edit));
  remove.addEventListener('click', () => onDelete(rule, remove));
  const hitsLine = el('p', { className: 'rule-hits', text: hitsText(hits, rule) });
  hitsLine.hidden = !hitsLine.textContent;
  const warning = rule.enabled ? shadowWarning(rule, shadows) : '';
  const options = [...(rule.quick_replies || []), ...(rule.buttons || [])];
  const optionsLine = options.length ? el('p', { className: 'rule-options-line' },
    el('span', { className: 'badge', text: optionsCount(rule) }), ' ', options.map((o) => `“${o.title}”`).join(' · ')) : null;
  return el('li', { className: rule.enabled ? 'rule' : 'rule off', tabindex: '-1', dataset: { ruleId: rule.id } },
    el('div', { className: 'rule-top' }, keywords, ruleSwitch(rule, onToggle)),
    el('p', { className: 'rule-reply', text: rule.reply }),
    optionsLine,
    el('p', { className: 'rule-meta', text: meta.join(' · ') }),
    hitsLine,
    warning ? el('p', { className: 'rule-warning', role: 'note', text: warning }) : null,
    el('div', { className: 'actions' }, edit, remove));
}

/** Draws every card; `handlers` = `{ hits, shadows, onEdit, onDelete, onToggle }`. */
export function renderRules(rules, handlers) {
  const list = $('#rules-list');
  list.replaceChildren();
  if (!rules.length) {
    list.append(el('li', { className: 'muted', text: 'No rules yet. Add your first one with “Add a rule” below.' }));
    return;
  }
  for (const rule of rules) list.append(ruleCard(rule, handlers));
}

/** Fills in the counts once they arrive, without redrawing the cards (focus stays where it is). */
export function showHits(rules, hits) {
  for (const card of $$('#rules-list li[data-rule-id]')) {
    const rule = rules.find((r) => r.id === card.dataset.ruleId);
    const line = $('.rule-hits', card);
    if (!rule || !line) continue;
    line.textContent = hitsText(hits, rule);
    line.hidden = !line.textContent;
  }
}
