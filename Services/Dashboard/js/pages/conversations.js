// The Activity page's conversations: the log grouped by customer (GET /api/conversations), searchable over the 90 days
// it keeps, a thread per customer (GET /api/activity?customer=…) naming the rule or path that answered, new entries
// appearing on their own, and "pause the bot for this customer" (POST /api/conversations/{id}/pause).

import { $, el, notify } from '../dom.js';
import { analytics, api, busy, report } from '../api.js';
import { EVENTS, OUTCOMES } from '../words.js';
import { whatHappened } from './activity.js';
import { markDone } from './onboarding.js';
import { characterCount } from '../password.js';

const REFRESH_MS = 5000;
let listBefore = null;
let open = null; // the conversation shown in the thread: { customer_id, paused_until }
let threadBefore = null;
let ruleNames = new Map(); // rule id → its keywords, for "answered by the rule …"
let timer = null;
let generation = 0; // bumped by every list load and by sign-out: an older answer is dropped
let threadGeneration = 0;
let searched = ''; // the last search submitted (a refresh never uses half-typed text)
let listPaged = false; // "Load more" was used: a refresh would throw those pages away
let threadPaged = false;

const when = (iso) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
};
const customerLabel = (id) => `Customer ${id}`;
const pausedText = (until) => (until ? `The bot is paused for this customer until ${when(until)}.` : 'The bot answers this customer.');

function said(item) {
  if (item.unsent_at || item.last_unsent_at) return 'Unsent by the customer';
  const text = item.summary ?? item.last_summary;
  if (text) return characterCount(text) >= 80 ? `${text}…` : text; // the log keeps the first 80 characters
  return EVENTS[item.event_kind] || '—';
}

function conversationItem(c) {
  const button = el('button', { type: 'button', className: 'conversation', dataset: { customer: c.customer_id } },
    el('span', { className: 'who', text: customerLabel(c.customer_id) }),
    el('span', { className: 'when', text: when(c.last_at) }),
    el('span', { className: 'last', text: said(c) }),
    el('span', { className: 'state', text: [OUTCOMES[c.last_outcome] || c.last_outcome, `${c.entries} in the log`,
      c.paused_until ? (c.last_reason === 'hand_off' ? 'waiting for you' : 'bot paused') : null].filter(Boolean).join(' · ') }));
  button.addEventListener('click', () => openThread(c).catch(report));
  return el('li', {}, button);
}

async function loadList(reset) {
  const mine = ++generation;
  const query = new URLSearchParams({ limit: '30' });
  const q = searched;
  if (q) query.set('q', q);
  listPaged = !reset;
  if (!reset && listBefore) query.set('before', listBefore);
  const data = await analytics(`/api/conversations?${query}`);
  if (mine !== generation) return;
  const items = (data.conversations || []).map(conversationItem);
  if (reset) $('#conversation-list').replaceChildren(...items);
  else $('#conversation-list').append(...items);
  listBefore = data.next_before || null;
  $('#conversations-more').hidden = !listBefore;
  const empty = $('#conversation-list').children.length === 0;
  $('#conversations-empty').hidden = !empty;
  $('#conversations-empty').textContent = q ? `No conversation mentions “${q}” in the last 90 days.`
    : 'No conversation yet. When a customer writes to your Instagram account, the conversation appears here within seconds.';
  if (!empty) markDone('seen-activity');
}

async function loadRuleNames() {
  try {
    const data = await api('GET', '/api/rules');
    ruleNames = new Map((data.rules || []).map((r) => [r.id, (r.keywords || []).join(', ')]));
  } catch { /* the thread still shows what happened, without the rule's words */ }
}

function threadEntry(item) {
  let happened = whatHappened(item);
  if (item.rule_id && ruleNames.has(item.rule_id)) happened += ` — the rule “${ruleNames.get(item.rule_id)}”`;
  else if (item.rule_id) happened += ' — a rule since deleted';
  const time = el('time', { datetime: item.occurred_at, text: when(item.occurred_at) });
  if (item.event_kind === 'dashboard') {
    // The business's own action (a pause), not something the customer wrote.
    return el('li', { className: 'thread-entry', dataset: { outcome: 'owner' } }, time, el('p', { className: 'happened', text: happened }));
  }
  const entry = el('li', { className: 'thread-entry', dataset: { outcome: item.outcome || '' } },
    time,
    el('p', { className: 'said' }, el('strong', { text: 'Customer: ' }), said(item)),
    el('p', { className: 'happened', text: happened }));
  if (item.reply_summary) entry.append(el('p', { className: 'reply' }, el('strong', { text: 'Reply: ' }), item.reply_summary));
  return entry;
}

async function loadThread(reset) {
  if (!open) return;
  const mine = ++threadGeneration;
  const query = new URLSearchParams({ limit: '50', customer: open.customer_id });
  if (!reset && threadBefore) query.set('before', threadBefore);
  threadPaged = !reset;
  const data = await analytics(`/api/activity?${query}`);
  if (mine !== threadGeneration || !open) return;
  // Oldest first, as a conversation reads; the API pages newest first.
  const entries = (data.items || []).slice().reverse().map(threadEntry);
  if (reset) $('#thread-entries').replaceChildren(...entries);
  else $('#thread-entries').prepend(...entries);
  threadBefore = data.next_before || null;
  $('#thread-more').hidden = !threadBefore;
}

function renderPause() {
  $('#thread-status').textContent = pausedText(open && open.paused_until);
  $('#resume-button').hidden = !(open && open.paused_until);
}

async function openThread(conversation) {
  open = { customer_id: conversation.customer_id, paused_until: conversation.paused_until || null };
  threadBefore = null;
  $('#thread-title').textContent = customerLabel(conversation.customer_id);
  renderPause();
  $('#conversation-list').hidden = true;
  $('#conversation-search').hidden = true;
  $('#conversations-more').hidden = true;
  $('#conversations-empty').hidden = true;
  $('#thread').hidden = false;
  await loadRuleNames();
  await loadThread(true);
  $('#thread-title').setAttribute('tabindex', '-1');
  $('#thread-title').focus();
}

function closeThread() {
  const customer = open && open.customer_id;
  open = null;
  $('#thread').hidden = true;
  $('#conversation-list').hidden = false;
  $('#conversation-search').hidden = false;
  loadList(true).then(() => {
    const back = customer && $(`#conversation-list [data-customer="${CSS.escape(customer)}"]`);
    if (back) back.focus();
  }).catch(report);
}

/** Reads the open conversation's pause again (the change is made by dispatch, a moment after it is asked for). */
async function refreshOpen() {
  if (!open) return;
  const customer = open.customer_id;
  const data = await analytics(`/api/conversations?${new URLSearchParams({ customer, limit: '1' })}`);
  const found = (data.conversations || []).find((c) => c.customer_id === customer);
  if (found && open && open.customer_id === customer) { open.paused_until = found.paused_until || null; renderPause(); }
}

async function setPause(minutes) {
  await api('POST', `/api/conversations/${encodeURIComponent(open.customer_id)}/pause`, { minutes });
  notify(minutes ? 'The bot will stay quiet with this customer. Answer them yourself in Instagram.'
    : 'The bot answers this customer again.');
  for (let i = 0; i < 10 && open; i += 1) {
    await new Promise((resolve) => { setTimeout(resolve, 500); });
    await refreshOpen();
    if (Boolean(open && open.paused_until) === Boolean(minutes)) break;
  }
  await loadThread(true);
}

function tick() {
  if ($('#app').hidden || $('#page-activity').hidden || document.hidden || !$('#events-view').hidden) return;
  // Never while the person is reading further back, or working in the list (a rebuild would take their focus).
  let work;
  if (open) work = threadPaged ? refreshOpen() : Promise.all([refreshOpen(), loadThread(true)]);
  else if (!listPaged && !$('#conversation-list').contains(document.activeElement)) work = loadList(true);
  if (work) work.catch(() => {}); // a missed refresh is retried at the next tick
}

/** Shown each time the Activity page opens: the list (or the open thread) now, then every few seconds. */
export function loadConversations() {
  if (!timer) timer = setInterval(tick, REFRESH_MS);
  return open ? loadThread(true) : loadList(true);
}

export function resetConversations() {
  if (timer) { clearInterval(timer); timer = null; }
  generation += 1;
  threadGeneration += 1;
  searched = '';
  listPaged = false;
  threadPaged = false;
  $('#conversation-q').value = '';
  open = null;
  listBefore = null;
  threadBefore = null;
  ruleNames = new Map();
  $('#thread').hidden = true;
  $('#conversation-list').hidden = false;
  $('#conversation-search').hidden = false;
  $('#conversation-list').replaceChildren();
  $('#thread-entries').replaceChildren();
}

export function setupConversations() {
  $('#conversation-search').addEventListener('submit', (event) => {
    event.preventDefault();
    searched = $('#conversation-q').value.trim();
    busy(event.currentTarget, () => loadList(true));
  });
  $('#conversations-more').addEventListener('click', () => loadList(false).catch(report));
  $('#thread-more').addEventListener('click', () => loadThread(false).catch(report));
  $('#thread-back').addEventListener('click', closeThread);
  $('#thread-pause').addEventListener('submit', (event) => {
    event.preventDefault();
    busy(event.currentTarget, () => setPause(Number($('#pause-minutes').value)));
  });
  $('#resume-button').addEventListener('click', () => busy($('#thread-pause'), () => setPause(0), $('#resume-button')));
}
