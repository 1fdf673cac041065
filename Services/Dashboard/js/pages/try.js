// "Try the bot": a chat with the bot as a pretend customer (POST /api/try). The customer's messages on the right, the
// bot's on the left with their quick replies and buttons (a tap sends the option's title and payload), and under each
// answer which path answered and why, and whether the conversation was handed to the business. The `state` of each
// answer goes back with the next message, so welcome, away and hand-off behave as in a real conversation; "New
// customer" starts again. Nothing is sent to Instagram, logged or counted. The page is built here (index.html has
// only its <section>).

import { $, $$, el } from '../dom.js';
import { api, busy, formError } from '../api.js';
import { need } from '../feedback.js';
import { TIME_ZONE, plural } from '../format.js';
import { attachCounters } from '../counters.js';
import { registerPage } from '../router.js';
import { markDone } from './onboarding.js';

const PATHS = {
  rule: 'A rule answered',
  ice_breaker: 'An Ice Breaker answered',
  ai: 'The AI answered',
  fallback: 'Your fallback message',
  away: 'Your away message',
  welcome: 'Your welcome message',
  hand_off: 'Handed to you',
  none: 'Nothing sent',
};
const STORY_WORDS = { reply: 'Replied to your story', mention: 'Mentioned you in their story' };

let botState = null; // the last answer's `state`; null: a new customer
let sending = false;

const pad = (n) => String(n).padStart(2, '0');

/** "30 minutes", "2 hours", "1 day". */
function duration(minutes) {
  const n = Number(minutes) || 0;
  if (n >= 1440 && n % 1440 === 0) return plural(n / 1440, 'day', 'days');
  if (n >= 60 && n % 60 === 0) return plural(n / 60, 'hour', 'hours');
  return plural(n, 'minute', 'minutes');
}

/** The "pretend it is" time as ISO 8601 with this browser's offset on that day, or null for now. */
function atValue() {
  const input = $('#try-at');
  const raw = input.value;
  if (!raw) return null;
  const date = new Date(raw); // a date-time without an offset is local time
  if (Number.isNaN(date.getTime())) throw formError('Choose a day and a time, or leave it empty for now.', input);
  const offset = -date.getTimezoneOffset();
  const sign = offset >= 0 ? '+' : '-';
  const abs = Math.abs(offset);
  return `${raw.length === 16 ? `${raw}:00` : raw}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

function scrollDown() {
  const log = $('#try-log');
  log.scrollTop = log.scrollHeight;
}

function customerBubble(text, story) {
  return el('li', { className: 'try-bubble customer' },
    el('span', { className: 'sr-only', text: 'The customer: ' }),
    story ? el('span', { className: 'try-story', text: STORY_WORDS[story] }) : null,
    el('p', { className: 'try-text', text: text || (story === 'mention' ? '(a mention without text)' : '') }));
}

function optionButton(option, className) {
  const button = el('button', { type: 'button', className, text: option.title || '' });
  button.addEventListener('click', () => tap(option));
  return button;
}

function botBubble(message) {
  const bubble = el('li', { className: 'try-bubble bot' },
    el('span', { className: 'sr-only', text: 'The bot: ' }),
    el('p', { className: 'try-text', text: message.text || '' }));
  const quick = Array.isArray(message.quick_replies) ? message.quick_replies : [];
  const buttons = Array.isArray(message.buttons) ? message.buttons : [];
  if (quick.length) {
    bubble.append(el('div', { className: 'try-quick-replies', role: 'group', 'aria-label': 'Quick replies: tap one' },
      ...quick.map((o) => optionButton(o, 'try-quick-reply'))));
  }
  if (buttons.length) {
    bubble.append(el('div', { className: 'try-buttons', role: 'group', 'aria-label': 'Buttons' },
      ...buttons.map((o) => optionButton(o, 'try-button'))));
  }
  return bubble;
}

/** Which path answered and why, and a hand-off, under the bot's messages. */
function note(data, messages) {
  const item = el('li', { className: 'try-note', dataset: { path: String(data.path || '') } });
  if (data.rule_id) item.dataset.ruleId = String(data.rule_id);
  const why = data.explanation || '';
  if (!messages.length) {
    item.append(el('p', { className: 'try-explanation', text: `Nothing would be sent: ${why || 'nothing answers this message.'}` }));
  } else {
    item.append(el('p', { className: 'try-explanation' }, el('strong', { text: PATHS[data.path] || 'Answered' }), why ? ` — ${why}` : ''));
  }
  if (data.hand_off_minutes) {
    item.append(el('p', { className: 'try-hand-off',
      text: `Handed to you for ${duration(data.hand_off_minutes)} — the bot stays quiet in this conversation.` }));
  }
  return item;
}

/** Sends one customer message (typed, or a tap with its payload) with the previous answer's state; draws both sides. */
async function send(message) {
  const story = message.payload ? '' : $('#try-story').value;
  const body = {};
  if (message.text) body.text = message.text;
  if (message.payload) body.payload = message.payload;
  if (story) body.story = story;
  const at = atValue();
  if (at) body.at = at;
  if (botState) body.state = botState;
  sending = true;
  let data;
  try {
    data = await api('POST', '/api/try', body);
  } finally {
    sending = false;
  }
  markDone('tried');
  botState = data && data.state != null ? data.state : null;
  // As on Instagram: quick replies go away once the customer writes again; buttons stay.
  for (const group of $$('#try-log .try-quick-replies')) group.remove();
  const messages = Array.isArray(data && data.messages) ? data.messages : [];
  $('#try-empty').hidden = true;
  $('#try-log').append(customerBubble(message.text, story), ...messages.map(botBubble), note(data || {}, messages));
  scrollDown();
}

function tap(option) {
  if (sending) return;
  const form = $('#try-chat-form');
  busy(form, async () => {
    await send({ text: option.title || '', payload: option.payload || '' });
    $('#try-input').focus(); // the tapped chip may be gone
  });
}

function reset() {
  botState = null;
  $('#try-log').replaceChildren();
  $('#try-empty').hidden = false;
}

function build() {
  const story = el('select', { id: 'try-story', dataset: { field: 'story' } },
    el('option', { value: '', text: 'A direct message' }),
    el('option', { value: 'reply', text: 'A reply to your story' }),
    el('option', { value: 'mention', text: 'A mention of you in their story' }));
  const form = el('form', { id: 'try-chat-form', className: 'try-chat-form', novalidate: '' },
    el('label', { for: 'try-input', text: 'Message from the customer' }),
    el('input', { id: 'try-input', type: 'text', autocomplete: 'off', dataset: { field: 'text', max: '1000' } }),
    el('div', { className: 'actions' },
      el('button', { type: 'submit', id: 'try-send', text: 'Send' }),
      el('button', { type: 'button', id: 'try-reset', className: 'secondary', text: 'New customer' })),
    el('div', { className: 'try-settings' },
      el('div', {}, el('label', { for: 'try-story', text: 'Send it as' }), story),
      el('div', {},
        el('label', { for: 'try-at', text: 'Pretend it is (optional)' }),
        el('input', { id: 'try-at', type: 'datetime-local', 'aria-describedby': 'try-at-hint', dataset: { field: 'at' } }),
        el('p', { id: 'try-at-hint', className: 'hint', text: `To try your business hours. In ${TIME_ZONE.replaceAll('_', ' ')} time; empty means now.` }))));
  $('#page-try').append(
    el('h1', { id: 'try-bot-title', text: 'Try the bot' }),
    el('p', { className: 'hint', text: 'Write as a customer would and see what Flowtalk would answer: your welcome, bot notice and away message, rules, Ice Breakers and the AI. Nothing is sent to Instagram, logged or counted.' }),
    el('div', { className: 'card try-chat' },
      el('ol', { id: 'try-log', className: 'try-log', 'aria-label': 'The conversation', 'aria-live': 'polite' }),
      el('p', { id: 'try-empty', className: 'muted', text: 'A new customer: nothing sent yet. Write their first message below.' }),
      form));
  attachCounters(form);
}

export function setupTry() {
  build();
  registerPage('try', { reset });
  $('#try-reset').addEventListener('click', () => {
    reset();
    $('#try-input').focus();
  });
  $('#try-chat-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const input = $('#try-input');
    const text = input.value.trim();
    if (!text && $('#try-story').value !== 'mention') { need(form, input, 'Type a message to send.'); return; }
    if (sending) return;
    busy(form, async () => {
      await send({ text });
      input.value = '';
      input.dispatchEvent(new Event('input'));
      input.focus();
    });
  });
}
