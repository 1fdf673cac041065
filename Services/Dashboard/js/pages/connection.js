// The Instagram page: connection status, what the daily check found (GET /api/health's `connection`: token expiry, last
// renewal, last check, webhooks), connect (a POST that answers Instagram's authorize address) and disconnect; the
// notice the OAuth callback leaves in the address.

import { $, el, notify } from '../dom.js';
import { api, report } from '../api.js';
import { registerPage } from '../router.js';
import { state } from '../state.js';
import { refreshAccount } from './session.js';
import { currentHealth, reconnectReason, refreshHealth } from './health.js';

const INSTAGRAM_ERRORS = {
  expired_or_invalid_state: 'The connection took too long or was started in another tab. Please try again.',
  denied: 'The connection was cancelled on Instagram. Flowtalk was not given access.',
  instagram_error: 'Instagram reported a problem. Please try again in a few minutes.',
  missing_code: 'Instagram did not finish the connection. Please try again.',
  instagram_refused: 'Instagram refused the connection. Check that it is a Business or Creator account and try again.',
  connected_to_another_account: 'This Instagram account is already connected to another Flowtalk account.',
};

/** A date and time from the API in this browser's words, or `none` when there is none. */
function when(iso, none, options = { dateStyle: 'medium', timeStyle: 'short' }) {
  if (!iso) return none;
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString(undefined, options);
}

function checkText(c) {
  if (!c.last_check_at) return 'Not checked yet';
  const result = c.last_check_ok === true ? 'all fine' : c.last_check_ok === false ? 'failed' : 'result unknown';
  return `${when(c.last_check_at)}: ${result}`;
}

function webhooksText(on) {
  if (on == null) return 'Not checked yet';
  return on ? 'Yes' : 'No';
}

/** What the daily check found, when connected; hidden when the server says nothing about it. */
function renderDetails(ig, c) {
  const list = $('#connection-details');
  list.replaceChildren();
  list.hidden = !ig || !c;
  if (list.hidden) return;
  const rows = [
    ['username', 'Account', c.username ? `@${c.username}` : `@${ig.username}`],
    ['expires', 'Instagram access valid until', when(c.token_expires_at, 'Not known', { dateStyle: 'long' })],
    ['refreshed', 'Access last renewed', when(c.token_refreshed_at, 'Not yet')],
    ['checked', 'Last check with Instagram', checkText(c)],
    ['webhooks', 'New messages reach Flowtalk', webhooksText(c.webhooks_subscribed)],
  ];
  for (const [key, term, value] of rows) {
    const bad = (key === 'checked' && c.last_check_ok === false) || (key === 'webhooks' && c.webhooks_subscribed === false);
    list.append(el('div', {}, el('dt', { text: term }), el('dd', { id: `connection-${key}`, className: bad ? 'error-text' : '', text: value })));
  }
}

function renderConnection() {
  const ig = state.account && state.account.instagram;
  const status = $('#connection-status');
  const connect = $('#connect-button');
  const health = currentHealth();
  const problems = (health && health.problems) || [];
  const connection = health ? health.connection : null;
  const webhooksOff = Boolean(ig && (problems.some((p) => p.code === 'webhooks_off') || (connection && connection.webhooks_subscribed === false)));
  if (!ig) {
    status.textContent = 'Not connected. Connect your Instagram account so Flowtalk can answer its messages.';
    connect.textContent = 'Connect Instagram';
  } else if (ig.status === 'needs_reconnect') {
    const problem = problems.find((p) => p.code === 'needs_reconnect');
    const why = problem ? reconnectReason(problem.reason) : 'Instagram access has expired';
    status.textContent = `@${ig.username} needs reconnecting: ${why}, so Flowtalk cannot reply. Connect again.`;
    connect.textContent = 'Reconnect Instagram';
  } else if (webhooksOff) {
    status.textContent = `Connected as @${ig.username}, but Instagram is not passing new messages to Flowtalk. Connect again to turn them back on.`;
    connect.textContent = 'Reconnect Instagram';
  } else {
    const nobody = problems.some((p) => p.code === 'nobody_answering');
    status.textContent = nobody
      ? `Connected as @${ig.username}, but nothing answers yet: add a rule or turn on the AI.`
      : `Connected as @${ig.username}. Flowtalk is answering its messages.`;
  }
  connect.hidden = Boolean(ig && ig.status !== 'needs_reconnect' && !webhooksOff);
  $('#disconnect-button').hidden = !ig;
  renderDetails(ig, connection);
}

async function loadConnection() {
  renderConnection();
  await refreshAccount();
  await refreshHealth();
  renderConnection();
}

/** Reads ?instagram=… left by the OAuth callback, then removes it from the address bar. */
export function takeInstagramNotice() {
  const params = new URLSearchParams(location.search);
  const result = params.get('instagram');
  if (!result) return null;
  const reason = params.get('reason');
  params.delete('instagram');
  params.delete('reason');
  const query = params.toString();
  history.replaceState(null, '', `${location.pathname}${query ? `?${query}` : ''}#connection`);
  if (result === 'connected') return { text: 'Instagram is connected. Flowtalk will now answer its messages.', error: false };
  return { text: (reason && Object.hasOwn(INSTAGRAM_ERRORS, reason) && INSTAGRAM_ERRORS[reason]) || 'Instagram could not be connected. Please try again.', error: true };
}

export function setupConnection() {
  registerPage('connection', { load: loadConnection });

  // Starting a connection changes state (a single-use OAuth state bound to this session), so it is a same-origin POST;
  // the answer is Instagram's authorize page, opened in this tab.
  $('#connect-button').addEventListener('click', async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    try {
      const started = await api('POST', '/api/instagram/connect', {});
      window.location.assign(started.authorize_url);
    } catch (err) {
      report(err);
      button.disabled = false;
    }
  });

  $('#disconnect-button').addEventListener('click', async (event) => {
    const ig = state.account && state.account.instagram;
    const name = ig ? `@${ig.username}` : 'Instagram';
    if (!window.confirm(`Disconnect ${name}? Flowtalk will stop answering its messages.`)) return;
    const button = event.currentTarget;
    button.disabled = true;
    try {
      await api('POST', '/api/instagram/disconnect', {});
      await refreshAccount();
      renderConnection();
      notify('Instagram is disconnected. Flowtalk no longer answers its messages.');
    } catch (err) {
      report(err);
    } finally {
      button.disabled = false;
    }
  });
}
