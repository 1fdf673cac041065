// The settings page's welcome, bot notice and business hours (built here, not in index.html; ai.js fills them with the
// rest of GET /api/settings and sends them with the rest of its PUT): the welcome message and whether it comes before
// the answer or instead of it, the "you are talking to a bot" notice, business hours per weekday (up to 3 ranges a day,
// in a time zone), the away message, and whether rules and the AI still answer when closed.

import { $, $$, el } from '../dom.js';
import { formError } from '../api.js';
import { attachCounters } from '../counters.js';
import { TIME_ZONE } from '../format.js';

const DAYS = [['mon', 'Monday'], ['tue', 'Tuesday'], ['wed', 'Wednesday'], ['thu', 'Thursday'], ['fri', 'Friday'],
  ['sat', 'Saturday'], ['sun', 'Sunday']];
const MAX_RANGES = 3;
const STARTER = [['09:00', '18:00']]; // Monday to Friday when business hours are first turned on
let rangeCounter = 0;

function zones() {
  try { return Intl.supportedValuesOf('timeZone'); } catch { return []; }
}

function text(id, field, max, label, hint, rows = 3) {
  const area = el('textarea', { id, rows: String(rows), 'aria-describedby': `${id}-hint`, dataset: { field, max: String(max) } });
  return [el('label', { for: id, text: label }), area, el('p', { id: `${id}-hint`, className: 'hint', text: hint })];
}

function check(id, field, label, hint) {
  const input = el('input', { id, type: 'checkbox', 'aria-describedby': `${id}-hint` });
  if (field) input.dataset.field = field;
  return [
    el('div', { className: 'check' }, input,
      el('label', { for: id, text: label })),
    el('p', { id: `${id}-hint`, className: 'hint', text: hint }),
  ];
}

function welcomeSection() {
  const mode = el('select', { id: 'welcome-mode', 'aria-describedby': 'welcome-mode-hint', dataset: { field: 'welcome_mode' } },
    el('option', { value: 'before', text: 'Send the welcome, then answer their message' }),
    el('option', { value: 'instead', text: 'Send only the welcome to their first message' }));
  return el('fieldset', { className: 'settings-group' },
    el('legend', { text: 'Welcome and bot notice' }),
    ...text('welcome-text', 'welcome_text', 1000, 'Welcome message (optional)',
      'Sent once to each new customer, on their first direct message (not on story mentions or Ice Breaker taps). Leave empty to send none.'),
    el('label', { for: 'welcome-mode', text: 'On a new customer’s first message' }), mode,
    el('p', { id: 'welcome-mode-hint', className: 'hint', text: 'Only used when you write a welcome message.' }),
    ...text('bot-disclosure', 'bot_disclosure_text', 300, 'Tell customers they are talking to a bot (optional)',
      'Sent once per conversation, before the first automatic answer, e.g. “Hi! This is our automatic assistant; a person reads along.” Leave empty to send none.', 2));
}

function zoneField() {
  const list = zones();
  if (!list.length) {
    return el('input', { id: 'time-zone', type: 'text', autocomplete: 'off', 'aria-describedby': 'time-zone-hint', dataset: { field: 'time_zone' } });
  }
  const select = el('select', { id: 'time-zone', 'aria-describedby': 'time-zone-hint', dataset: { field: 'time_zone' } });
  for (const zone of list) select.append(el('option', { value: zone, text: zone.replaceAll('_', ' ') }));
  return select;
}

/** Shows `zone` in the field, adding it to the list when the browser does not know it (e.g. "UTC"). */
function setZone(zone) {
  const field = $('#time-zone');
  if (field.tagName === 'SELECT' && ![...field.options].some((o) => o.value === zone)) {
    field.prepend(el('option', { value: zone, text: zone.replaceAll('_', ' ') }));
  }
  field.value = zone;
}

function updateDay(day) {
  const row = $(`#hours-${day}`);
  const ranges = $$('.hours-range', row);
  $('.day-closed', row).hidden = ranges.length > 0;
  $('.day-add', row).disabled = ranges.length >= MAX_RANGES;
}

function addRange(day, name, [from, to] = ['', '']) {
  const n = ++rangeCounter;
  const start = el('input', { id: `hours-${day}-${n}-from`, type: 'time', className: 'hours-from' });
  const end = el('input', { id: `hours-${day}-${n}-to`, type: 'time', className: 'hours-to' });
  start.value = from;
  end.value = to === '24:00' ? '00:00' : to;
  const remove = el('button', { type: 'button', className: 'secondary small', text: 'Remove', 'aria-label': `Remove these hours on ${name}` });
  const item = el('li', { className: 'hours-range' },
    el('label', { for: start.id }, el('span', { className: 'sr-only', text: `${name}: open ` }), 'from'), start,
    el('label', { for: end.id }, el('span', { className: 'sr-only', text: `${name}: open ` }), 'until'), end, remove);
  remove.addEventListener('click', () => {
    item.remove();
    updateDay(day);
    $(`#hours-${day} .day-add`).focus();
  });
  $(`#hours-${day} .day-ranges`).append(item);
  updateDay(day);
  return item;
}

function hoursSection() {
  const days = el('div', { id: 'hours-days', className: 'hours-days', role: 'group', tabindex: '-1',
    'aria-labelledby': 'hours-days-label', dataset: { field: 'business_hours' } },
  el('p', { id: 'hours-days-label', className: 'hint', text: 'Opening hours each day. A closing time of 00:00 (12:00 AM) means midnight. A day without hours is closed.' }));
  for (const [day, name] of DAYS) {
    const add = el('button', { type: 'button', className: 'secondary small day-add', text: 'Add hours', 'aria-label': `Add opening hours on ${name}` });
    add.addEventListener('click', () => { $('.hours-from', addRange(day, name)).focus(); });
    days.append(el('div', { id: `hours-${day}`, className: 'hours-day', role: 'group', 'aria-label': name },
      el('span', { className: 'day-name', text: name }),
      el('ul', { className: 'day-ranges' }), el('span', { className: 'day-closed muted', text: 'Closed' }), add));
  }
  const editor = el('div', { id: 'hours-editor' },
    el('label', { for: 'time-zone', text: 'Time zone of your business hours' }), zoneField(),
    el('p', { id: 'time-zone-hint', className: 'hint', text: `This browser is in ${TIME_ZONE.replaceAll('_', ' ')}.` }),
    days);
  return el('fieldset', { className: 'settings-group' },
    el('legend', { text: 'Business hours' }),
    ...check('hours-on', null, 'Keep business hours',
      'Without business hours you are always open. With them, customers who write when you are closed get your away message.'),
    editor,
    ...text('away-text', 'away_text', 1000, 'Away message (optional)',
      'Sent when a customer writes outside your business hours, once per conversation each time you are closed. Leave empty to send none.'),
    ...check('rules-out-of-hours', 'rules_out_of_hours', 'Rules and AI still answer outside business hours',
      'The away message goes first either way. Untick to send only the away message when you are closed.'));
}

function showEditor() {
  const on = $('#hours-on').checked;
  $('#hours-editor').hidden = !on;
  if (on && !$$('#hours-days .hours-range').length) {
    for (const [day, name] of DAYS.slice(0, 5)) for (const range of STARTER) addRange(day, name, range);
  }
}

/** Fills the fields from GET /api/settings (a field the server does not send gets its default). */
export function fillHours(s) {
  $('#welcome-text').value = s.welcome_text || '';
  $('#welcome-mode').value = s.welcome_mode === 'instead' ? 'instead' : 'before';
  $('#bot-disclosure').value = s.bot_disclosure_text || '';
  $('#away-text').value = s.away_text || '';
  $('#rules-out-of-hours').checked = s.rules_out_of_hours !== false;
  const hours = s.business_hours && typeof s.business_hours === 'object' ? s.business_hours : {};
  const on = Object.keys(hours).length > 0;
  // Without a schedule the stored zone is only the default ("UTC"): offer this browser's zone instead.
  setZone(on || (s.time_zone && s.time_zone !== 'UTC') ? s.time_zone || 'UTC' : TIME_ZONE);
  rangeCounter = 0;
  for (const [day, name] of DAYS) {
    $(`#hours-${day} .day-ranges`).replaceChildren();
    for (const range of Array.isArray(hours[day]) ? hours[day] : []) addRange(day, name, range);
    updateDay(day);
  }
  $('#hours-on').checked = on;
  showEditor();
}

/** The fields for PUT /api/settings, or a form error next to the field that is wrong. */
export function hoursBody() {
  const on = $('#hours-on').checked;
  const hours = {};
  if (on) {
    for (const [day, name] of DAYS) {
      const ranges = [];
      for (const item of $$(`#hours-${day} .hours-range`)) {
        const start = $('.hours-from', item);
        const end = $('.hours-to', item);
        if (!start.value) throw formError(`Choose when you open on ${name}, or remove these hours.`, start);
        if (!end.value) throw formError(`Choose when you close on ${name}, or remove these hours.`, end);
        const to = end.value === '00:00' ? '24:00' : end.value;
        if (to <= start.value) throw formError(`On ${name} the closing time must come after the opening time.`, end);
        ranges.push([start.value, to]);
      }
      if (ranges.length) hours[day] = ranges.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    }
    if (!Object.keys(hours).length) {
      throw formError('Add opening hours to at least one day, or untick “Keep business hours”.', $('#hours-days'));
    }
  }
  return {
    welcome_text: $('#welcome-text').value,
    welcome_mode: $('#welcome-mode').value,
    bot_disclosure_text: $('#bot-disclosure').value,
    business_hours: hours,
    time_zone: $('#time-zone').value.trim() || 'UTC',
    away_text: $('#away-text').value,
    rules_out_of_hours: $('#rules-out-of-hours').checked,
  };
}

/** Builds the sections into the settings form, before its save button. */
export function setupHours() {
  const save = $('#ai-save');
  save.insertAdjacentElement('beforebegin', welcomeSection());
  save.insertAdjacentElement('beforebegin', hoursSection());
  attachCounters($('#ai-form'));
  $('#hours-on').addEventListener('change', showEditor);
}
