// The activity page: conversations by customer (js/pages/conversations.js, the default view) and, under "All events",
// what happened to each message, newest first, filtered by outcome, paged with "Load more".

import { $, $$, el } from '../dom.js';
import { analytics, report } from '../api.js';
import { registerPage } from '../router.js';
import { EVENTS, OUTCOMES, SOURCES, isPartlySent, reasonText } from '../words.js';
import { markDone } from './onboarding.js';
import { loadConversations, resetConversations, setupConversations } from './conversations.js';

let activityRequest = 0;
let activityBefore = null;

/** "What happened" in words, from an entry's outcome, source and reason. */
export function whatHappened(item) {
  const reason = reasonText(item.reason);
  let text;
  if (item.outcome === 'replied') {
    text = SOURCES[item.source] || 'Replied';
    if (item.source === 'fallback' && reason) text += ` (${reason})`;
    if (item.latency_ms != null) text += ` in ${Math.round(item.latency_ms)} ms`;
    return text;
  }
  if (item.outcome === 'unknown' && (!item.reason || reason === OUTCOMES.unknown)) return OUTCOMES.unknown;
  if (isPartlySent(item.reason)) return reason; // it says itself what happened to the reply
  text = OUTCOMES[item.outcome] || reasonText(item.outcome) || 'Unknown';
  return reason ? `${text}: ${reason}` : text;
}

function activityRow(item) {
  const when = new Date(item.occurred_at);
  const time = el('time', { datetime: item.occurred_at,
    text: Number.isNaN(when.getTime()) ? String(item.occurred_at) : when.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) });
  const said = item.unsent_at ? 'Unsent by the customer'
    : (item.summary != null && item.summary !== '' ? item.summary : (EVENTS[item.event_kind] || '—'));
  return el('tr', { className: 'activity-row', dataset: { outcome: item.outcome || '' } },
    el('td', { 'data-label': 'Time' }, time),
    el('td', { 'data-label': 'Customer wrote', text: said }),
    el('td', { 'data-label': 'What happened', text: whatHappened(item) }),
    el('td', { 'data-label': 'Reply', text: item.reply_summary || '—' }));
}

async function loadActivity(reset) {
  const id = reset ? ++activityRequest : activityRequest;
  const list = $('#activity-list');
  const more = $('#activity-more');
  const query = new URLSearchParams({ limit: '50' });
  const outcome = $('#activity-filter').value;
  if (outcome) query.set('outcome', outcome);
  if (reset) {
    activityBefore = null;
    list.replaceChildren();
    more.hidden = true;
    $('#activity-empty').hidden = true;
  } else if (activityBefore) {
    query.set('before', activityBefore);
  }
  more.disabled = true;
  try {
    const data = await analytics(`/api/activity?${query}`);
    if (id !== activityRequest) return;
    list.append(...(data.items || []).map(activityRow));
    activityBefore = data.next_before || null;
    more.hidden = !activityBefore;
    $('#activity-empty').hidden = list.children.length > 0;
    if (list.children.length > 0) markDone('seen-activity');
  } finally {
    more.disabled = false;
  }
}

function selectView(events) {
  $('#events-view').hidden = !events;
  $('#conversations-view').hidden = events;
  for (const button of $$('#page-activity [aria-pressed]')) {
    button.setAttribute('aria-pressed', String((button.id === 'view-events') === events));
  }
}

function showView(events) {
  selectView(events);
  return events ? loadActivity(true) : loadConversations();
}

export function setupActivity() {
  registerPage('activity', {
    load: () => showView(!$('#events-view').hidden),
    reset: () => { activityBefore = null; resetConversations(); selectView(false); },
  });
  setupConversations();
  $('#view-conversations').addEventListener('click', () => showView(false).catch(report));
  $('#view-events').addEventListener('click', () => showView(true).catch(report));
  $('#activity-filter').addEventListener('change', () => loadActivity(true).catch(report));
  $('#activity-more').addEventListener('click', () => loadActivity(false).catch(report));
}
