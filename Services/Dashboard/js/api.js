// Talking to the services: the fetch wrapper, GET /api/config, and error codes in words.

import { $, $$, clearMessage, notify } from './dom.js';
import { clearFeedback, fieldError, fieldFor, formErrorNear } from './feedback.js';
import { state } from './state.js';

const ERROR_WORDS = {
  network: 'Cannot reach Flowtalk. Check your internet connection and try again.',
  analytics_network: 'Cannot reach Flowtalk statistics right now. Try again in a moment.',
  analytics_unavailable: 'Statistics are not available right now. Try again in a moment.',
  invalid_credentials: 'Email or password is incorrect.',
  password_too_common: 'This password is too common and easy to guess. Please choose another one.',
  password_too_long: 'This password is too long. Please choose a shorter one.',
  password_invalid: 'This password contains characters that cannot be used. Please choose another one.',
  invalid_email: 'Please enter a valid email address.',
  invalid_text: 'The text contains an invisible NUL character that cannot be saved. Remove it and try again.',
  invalid_query: 'Enter an Instagram-scoped id or a phrase of at least 3 characters.',
  customer_not_found: 'This account holds no data about that customer.',
  invalid_token: 'This link is invalid, has expired or was used already. Ask for a new one.',
  email_unverified: 'Verify your email address first: open the link we mailed you, or send it again from the banner above.',
  email_taken: 'This address now belongs to another account, so your email was not changed.',
  same_email: 'This is your email address already.',
  rate_limited: 'Too many attempts, wait a few minutes.',
  unauthorized: 'Please sign in again.',
  cross_site_request: 'Flowtalk refused this request for your safety. Reload the page and try again.',
  json_required: 'Flowtalk refused this request. Reload the page and try again.',
  payload_too_large: 'That text is too long.',
  not_found: 'This item no longer exists. The page has been refreshed.',
  internal: 'Flowtalk had a problem. Please try again in a moment.',
  unavailable: 'Flowtalk is temporarily unavailable. Please try again in a moment.',
};
// Codes whose server message explains the problem in words (e.g. which field is wrong, or how long a password must be).
const EXPLAINED = {
  invalid_rule: 'The rule was not saved: ',
  invalid_settings: 'The settings were not saved: ',
  invalid_ice_breakers: 'The Ice Breakers were not saved: ',
  password_too_short: 'The password is too short. ',
  conflict: '',
};

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.field = field || null; // the request field the server says it is about
    this.input = null; // the field the page found wrong
    this.handled = false;
  }
}

/** An error found by the page itself, shown as its message next to `input` when given. */
export function formError(message, input = null) {
  const err = new ApiError(400, 'form', message);
  err.input = input;
  return err;
}

/** The words for one error code. */
export const errorWords = (code) => ERROR_WORDS[code];

/** Words for any error: known codes have their own, explained codes add the server's message. */
export function friendly(err) {
  if (!(err instanceof ApiError)) return ERROR_WORDS.internal;
  if (Object.hasOwn(ERROR_WORDS, err.code)) return ERROR_WORDS[err.code];
  if (Object.hasOwn(EXPLAINED, err.code) && err.message) return EXPLAINED[err.code] + err.message;
  if (err.status >= 500) return ERROR_WORDS.internal;
  return err.message || 'Something went wrong. Please try again.';
}

/** Shows an error in words, unless it was already dealt with (a session that ended). */
export function report(err) {
  if (err && err.handled) return;
  if (!(err instanceof ApiError)) console.error(err); // eslint-disable-line no-console
  notify(friendly(err), true);
}

async function request(url, options, networkCode) {
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    throw new ApiError(0, networkCode, '');
  }
  let data = null;
  const text = response.status === 204 ? '' : await response.text().catch(() => '');
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    const fallback = response.status === 429 ? 'rate_limited' : response.status >= 500 ? 'internal' : `http_${response.status}`;
    throw new ApiError(response.status, error.code || fallback, error.message || '', error.field);
  }
  return data;
}

let sessionEndedHandler = () => {};
/** What to do when a signed-in call answers 401: set by the session module. */
export function onSessionEnded(handler) { sessionEndedHandler = handler; }

function sessionEnded(err) {
  if (state.account) sessionEndedHandler();
  err.handled = true;
}

/** Same-origin auth API. State-changing calls always send a JSON body. */
export async function api(method, path, body) {
  const options = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (method !== 'GET') {
    options.headers['Content-Type'] = 'application/json';
    options.body = JSON.stringify(body || {});
  }
  try {
    return await request(path, options, 'network');
  } catch (err) {
    if (err.status === 401 && err.code !== 'invalid_credentials' && state.account) sessionEnded(err);
    throw err;
  }
}

let config = null;
/** GET /api/config once it has answered: `{ analyticsURL, passwordMinLength }`; null until then (asked again next time). */
export async function loadConfig() {
  if (config) return config;
  try {
    const data = await request('/api/config', { credentials: 'same-origin' }, 'network');
    if (data && data.analytics_url) {
      const min = Number(data.password_min_length);
      config = {
        analyticsURL: String(data.analytics_url).replace(/\/+$/, ''),
        passwordMinLength: Number.isInteger(min) && min > 0 ? min : null,
        privacyPolicyVersion: data.privacy_policy_version ? String(data.privacy_policy_version) : null,
      };
    }
  } catch { /* asked again when next needed */ }
  return config;
}

/** Analytics API on its own origin: GET only, with the session cookie. */
export async function analytics(path) {
  const base = (await loadConfig())?.analyticsURL;
  if (!base) throw new ApiError(0, 'analytics_unavailable', '');
  try {
    return await request(base + path, { credentials: 'include' }, 'analytics_network');
  } catch (err) {
    if (err.status === 401) sessionEnded(err);
    throw err;
  }
}

/** Shows an error in the form it came from: next to its field, or above the form's buttons (`button`'s row). */
export function reportIn(form, err, button) {
  if (err && err.handled) return;
  if (!(err instanceof ApiError)) console.error(err); // eslint-disable-line no-console
  const input = fieldFor(form, err);
  if (input) fieldError(input, friendly(err));
  else formErrorNear(form, friendly(err), button);
}

/** Disables a form's buttons while `work` runs; an error is shown in the form, a success clears earlier errors. */
export async function busy(form, work, button) {
  const buttons = $$('button', form);
  clearFeedback(form);
  buttons.forEach((b) => { b.disabled = true; });
  try {
    await work();
    if ($('#message').classList.contains('error')) clearMessage();
  } catch (err) {
    reportIn(form, err, button);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}
