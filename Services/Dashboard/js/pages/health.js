// The health strip under the top bar on every page: whether anyone is answering the account's DMs, and the one thing
// to do about each problem (GET /api/health). Also what the onboarding checklist and honest empty states read.

import { $, el } from '../dom.js';
import { api } from '../api.js';
import { REASONS } from '../words.js';

let last = null;

/** The account's health as last read; null before the first answer. */
export const currentHealth = () => last;

function line(text, linkText, href) {
  return el('li', {}, el('span', { text }), ' ', el('a', { href, className: 'strip-action', text: linkText }));
}

// Why Instagram needs reconnecting, from the daily check (GET /me with the token); other reasons as the activity log words them.
const RECONNECT_REASONS = {
  token_expired: 'the access Instagram gave Flowtalk has expired',
  token_revoked: 'Flowtalk’s access was removed in Instagram’s settings',
};

export const reconnectReason = (reason) =>
  RECONNECT_REASONS[reason] || (REASONS[reason] || 'Instagram refused Flowtalk’s access').replace(/ — reconnect$/, '');

const PROBLEMS = {
  not_connected: () => line('Instagram is not connected: nobody is answering your DMs yet.', 'Connect Instagram', '#connection'),
  needs_reconnect: (p) => line(`Instagram needs reconnecting (${reconnectReason(p.reason)}). Until then no reply goes out.`,
    'Reconnect', '#connection'),
  webhooks_off: () => line('Instagram is not passing new messages to Flowtalk, so none are answered. Connecting Instagram again turns this back on.',
    'Reconnect', '#connection'),
  nobody_answering: () => line('No rule and AI off: nobody is answering.', 'Add a rule', '#rules'),
  ai_paused: () => line('AI paused: the AI provider keeps failing. Rules still answer; other messages get your fallback text, if you set one.', 'AI settings', '#ai'),
  replies_failing: (p) => line(`Replies are failing: ${REASONS[p.reason] || 'Instagram refused them'} (${p.count} in the last hour).`,
    'See the activity', '#activity'),
};

function render() {
  const strip = $('#health-strip');
  const list = $('#health-problems');
  const problems = (last && last.problems) || [];
  list.replaceChildren(...problems.filter((p) => PROBLEMS[p.code]).map((p) => PROBLEMS[p.code](p)));
  strip.hidden = list.children.length === 0;
}

/** Reads the account's health again and redraws the strip; never throws (the strip keeps what it showed). */
export async function refreshHealth() {
  try {
    const data = await api('GET', '/api/health');
    last = (data && data.health) || null;
  } catch {
    return last;
  }
  render();
  return last;
}

export function resetHealth() {
  last = null;
  render();
}
