// The onboarding checklist at the top of the home pages until it is done: connect Instagram → a first rule from a
// template → try it → a test DM → see it in Activity. The server says what it knows (GET /api/health); trying the
// tester and opening Activity are remembered in this browser.

import { $, el, notify } from '../dom.js';
import { api, report } from '../api.js';
import { state } from '../state.js';
import { currentHealth, refreshHealth } from './health.js';

/** Starter rules a business edits afterwards. */
export const TEMPLATES = [
  { name: 'Prices', keywords: ['price', 'prices', 'how much', 'cost'],
    reply: 'Thanks for asking, {username}! Our prices start at 10 EUR. Which product are you interested in?' },
  { name: 'Opening hours', keywords: ['opening hours', 'open', 'hours', 'closed'],
    reply: 'We are open Monday to Saturday, 9:00 to 18:00.' },
  { name: 'Shipping', keywords: ['shipping', 'delivery', 'deliver', 'ship'],
    reply: 'We ship within 2 to 3 business days. Where should your order go?' },
  { name: 'Talk to a person', keywords: ['human', 'person', 'agent', 'talk to someone'],
    reply: 'Of course. Someone from our team will answer you here soon.' },
];

const key = (what) => `flowtalk:${what}:${state.account ? state.account.id : ''}`;
const remembered = (what) => { try { return localStorage.getItem(key(what)) === '1'; } catch { return false; } };

/** Remembers a step done in this browser (`tried`, `seen-activity`, `hidden`) and redraws the checklist. */
export function markDone(what) {
  try { localStorage.setItem(key(what), '1'); } catch { /* private mode: the step stays open */ }
  renderOnboarding();
}

function steps(health) {
  const ig = state.account && state.account.instagram;
  const received = Number(health.messages_received) > 0;
  return [
    { done: health.instagram !== 'not_connected', text: 'Connect your Instagram account', link: ['Connect', '#connection'] },
    { done: Number(health.rules_enabled) > 0, text: 'Add your first rule: start from a template, edit it later', templates: true },
    { done: remembered('tried'), text: 'Try it: type a message a customer might send in the rule tester', link: ['Open the tester', '#rules'] },
    { done: received, text: `Send a test DM to ${ig ? `@${ig.username}` : 'your account'} from another Instagram account or a phone (on a test server: the sandbox)` },
    { done: received && remembered('seen-activity'), text: 'See it, and what Flowtalk answered, in Activity', link: ['Open Activity', '#activity'] },
  ];
}

async function addTemplate(template, button) {
  button.disabled = true;
  try {
    await api('POST', '/api/rules', { keywords: template.keywords, reply: template.reply, match_type: 'contains' });
    notify(`Rule “${template.name}” added. Change its words on the Rules page whenever you like.`);
    await refreshHealth();
    renderOnboarding();
  } catch (err) {
    report(err);
  } finally {
    button.disabled = false;
  }
}

/** Draws the checklist from the last health reading; hidden once every step is done or it was dismissed. */
export function renderOnboarding() {
  const box = $('#onboarding');
  const health = currentHealth();
  if (!box || !health || !state.account || remembered('hidden')) { if (box) box.hidden = true; return; }
  const list = steps(health);
  const left = list.filter((s) => !s.done).length;
  if (left === 0) { box.hidden = true; return; }
  const items = list.map((s, i) => {
    const body = el('div', { className: 'step-body' }, el('span', { text: s.text + (s.done ? ' (done)' : '') }));
    const item = el('li', { className: s.done ? 'done' : '', dataset: { step: String(i + 1) } },
      el('span', { className: 'tick', 'aria-hidden': 'true', text: s.done ? '✓' : String(i + 1) }), body);
    if (!s.done && s.link) body.append(' ', el('a', { href: s.link[1], text: s.link[0] }));
    if (!s.done && s.templates) {
      const row = el('div', { className: 'templates', role: 'group', 'aria-label': 'Rule templates' });
      for (const template of TEMPLATES) {
        const button = el('button', { type: 'button', className: 'secondary small', text: template.name, dataset: { template: template.name } });
        button.addEventListener('click', () => addTemplate(template, button));
        row.append(button);
      }
      body.append(row);
    }
    return item;
  });
  const hide = el('button', { type: 'button', className: 'linklike', text: 'Hide this checklist' });
  hide.addEventListener('click', () => markDone('hidden'));
  box.replaceChildren(
    el('h2', { text: `Get Flowtalk answering: ${list.length - left} of ${list.length} done` }),
    el('ol', { className: 'checklist' }, ...items), hide);
  box.hidden = false;
}
