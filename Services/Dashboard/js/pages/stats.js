// The statistics page: totals, the chart and its table, rules used, Ice Breaker taps, quick reply and button taps, why
// messages were not answered.

import { $, $$, el } from '../dom.js';
import { analytics, api, report } from '../api.js';
import { TIME_ZONE, dayLabel, ms, num, parseDay, plural, ymd } from '../format.js';
import { registerPage } from '../router.js';
import { reasonText } from '../words.js';
import { drawChart } from './stats-chart.js';
import { currentHealth } from './health.js';

let statsDays = 7;
let statsRequest = 0;

async function loadStats() {
  const id = ++statsRequest;
  const days = statsDays;
  for (const b of $$('button[data-days]')) b.setAttribute('aria-pressed', String(Number(b.dataset.days) === days));
  const today = new Date();
  const from = new Date(today.getFullYear(), today.getMonth(), today.getDate() - (days - 1));
  const query = new URLSearchParams({ from: ymd(from), to: ymd(today), tz: TIME_ZONE });
  $('#stats-period').textContent = 'Loading…';
  try {
    let data;
    try {
      data = await analytics(`/api/stats?${query}`);
    } catch (err) {
      // A time zone the server does not know (older tz data): show the statistics in UTC rather than none.
      if (err.code !== 'invalid_timezone') throw err;
      query.set('tz', 'UTC');
      data = await analytics(`/api/stats?${query}`);
    }
    if (id === statsRequest) renderStats({ ...data, from: data.from || ymd(from), to: data.to || ymd(today) });
    if (id === statsRequest) await renderOptions(data, id);
  } catch (err) {
    if (id !== statsRequest) return;
    $('#stats-period').textContent = 'The statistics could not be loaded.';
    throw err;
  }
}

function renderStats(data) {
  const t = data.totals || {};
  const full = { day: 'numeric', month: 'long', year: 'numeric' };
  $('#stats-period').textContent = `${dayLabel(data.from, full)} to ${dayLabel(data.to, full)} (${data.tz || TIME_ZONE} time)`;
  $('#stat-received').textContent = num(t.received);
  const health = currentHealth();
  $('#stat-waiting').textContent = health ? num(health.waiting_for_you) : '—';
  $('#stat-replied').textContent = num(t.replied);
  $('#stat-reply-rate').textContent = t.reply_rate == null ? '—' : `${Math.round(t.reply_rate * 100)}%`;
  const latency = data.latency_ms || {};
  $('#stat-latency-p50').textContent = ms(latency.p50);
  $('#stat-latency-p95').textContent = ms(latency.p95);
  $('#stats-breakdown').textContent = [
    `By a rule: ${num(t.replied_rule)}`, `By the AI: ${num(t.replied_ai)}`,
    `Ice Breakers: ${num(t.replied_ice_breaker)}`, `Fallback message: ${num(t.replied_fallback)}`,
    t.replied_welcome == null ? null : `Welcome message: ${num(t.replied_welcome)}`,
    t.replied_away == null ? null : `Away message: ${num(t.replied_away)}`,
    `Not answered: ${num(t.skipped)}`, `Could not send: ${num(t.failed)}`, `Unclear: ${num(t.unknown)}`,
    t.hand_offs == null ? null : `Handed to you: ${num(t.hand_offs)}`,
    t.reactions == null ? null : `Reactions to your messages: ${num(t.reactions)}`,
  ].filter(Boolean).join(' · ');

  const days = fillDays(data.from, data.to, data.days || []);
  drawChart(days, t);
  $('#stats-days').replaceChildren(...days.map((d) => el('tr', {},
    el('th', { scope: 'row', text: dayLabel(d.date, { weekday: 'short', day: 'numeric', month: 'short' }) }),
    el('td', { text: num(d.received) }), el('td', { text: num(d.replied) }),
    el('td', { text: num(d.skipped) }), el('td', { text: num(d.failed) }))));

  const rules = [...(data.rules || [])].sort((a, b) => b.hits - a.hits);
  fillCounts('#stats-rules', rules.map((r) => [r.keywords ? r.keywords.join(', ') : 'Deleted rule', plural(Number(r.hits) || 0, 'reply', 'replies')]),
    'No rule answered in this period.');
  const ibs = [...(data.ice_breakers || [])].sort((a, b) => a.position - b.position);
  fillCounts('#stats-ice-breakers', ibs.map((i) => [i.question == null ? 'Removed question' : i.question, plural(Number(i.taps) || 0, 'tap', 'taps')]),
    'No Ice Breaker was tapped in this period.');
  const skipped = Object.entries(data.skipped_by_reason || {}).sort((a, b) => b[1] - a[1]);
  fillCounts('#stats-skipped', skipped.map(([reason, n]) => [reasonText(reason), plural(Number(n) || 0, 'message', 'messages')]),
    Number(t.received) > 0 ? 'Every message was answered in this period.' : 'No message arrived in this period.');
}

const ruleWords = (keywords) => (keywords && keywords.length ? `“${keywords.join(', ')}”` : null);

/** Taps per quick reply and button, named by the rule they are under (asked of the rules API when the period's rule
 * counts do not name it); an older server without `options` shows the empty line. */
async function renderOptions(data, id) {
  const options = [...(data.options || [])].sort((a, b) => (Number(b.taps) || 0) - (Number(a.taps) || 0));
  const names = new Map((data.rules || []).map((r) => [String(r.rule_id).toLowerCase(), ruleWords(r.keywords)]));
  if (options.some((o) => !names.get(String(o.rule_id).toLowerCase()))) {
    const list = await api('GET', '/api/rules').catch(() => null);
    for (const r of (list && list.rules) || []) names.set(String(r.id).toLowerCase(), ruleWords(r.keywords) || 'without keywords');
  }
  if (id !== statsRequest) return;
  fillCounts('#stats-options', options.map((o) => {
    const title = o.title == null ? `A removed option (number ${(Number(o.position) || 0) + 1})` : `“${o.title}”`;
    const rule = names.get(String(o.rule_id).toLowerCase());
    return [`${title} under ${rule ? `the rule ${rule}` : 'a deleted rule'}`, plural(Number(o.taps) || 0, 'tap', 'taps')];
  }), 'No quick reply or button was tapped in this period.');
}

/** One entry per calendar day between from and to, zeros where the server sent none. */
function fillDays(from, to, days) {
  const byDate = new Map(days.map((d) => [d.date, d]));
  const out = [];
  const end = parseDay(to);
  for (let d = parseDay(from); d <= end && out.length < 400; d.setDate(d.getDate() + 1)) {
    const key = ymd(d);
    out.push(byDate.get(key) || { date: key, received: 0, replied: 0, skipped: 0, failed: 0 });
  }
  return out.length ? out : days;
}

function fillCounts(selector, rows, emptyText) {
  const list = $(selector);
  list.replaceChildren();
  if (!rows.length) { list.append(el('li', { className: 'muted', text: emptyText })); return; }
  for (const [name, count] of rows) list.append(el('li', {}, el('span', { text: name }), el('span', { className: 'count', text: count })));
}

export function setupStats() {
  registerPage('stats', { load: loadStats });
  for (const button of $$('button[data-days]')) {
    button.addEventListener('click', () => {
      statsDays = Number(button.dataset.days) || 7;
      loadStats().catch(report);
    });
  }
}
