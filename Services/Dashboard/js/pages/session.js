// Signing in, signing up and signing out; switching between the signed-out and signed-in views.

import { $, $$, clearMessage, notify } from '../dom.js';
import { api, busy, errorWords, formError, loadConfig, onSessionEnded, report } from '../api.js';
import { need } from '../feedback.js';
import { checkNewPassword } from '../password.js';
import { resetPages, route } from '../router.js';
import { state } from '../state.js';
import { renderPolicyBanner } from './policy-banner.js';
import { renderVerifyBanner } from './verify-banner.js';
import { resetHealth } from './health.js';

// Lists that show the previous account's data.
const ACCOUNT_VIEWS = ['#rules-list', '#activity-list', '#stats-days', '#stats-rules', '#stats-ice-breakers', '#stats-options', '#stats-skipped',
  '#stats-chart', '#ib-rows', '#try-result', '#customer-results', '#connection-details'];

export function showSignedOut(message, isWarning = false) {
  state.account = null;
  resetPages();
  resetHealth();
  $('#loading').hidden = true;
  $('#app').hidden = true;
  $('#auth').hidden = false;
  $('#account-email').textContent = '';
  renderVerifyBanner();
  renderPolicyBanner();
  ACCOUNT_VIEWS.forEach((sel) => $(sel).replaceChildren());
  $$('#app form').forEach((form) => form.reset());
  if (message) notify(message, isWarning);
}

export function enterApp(account) {
  state.account = account;
  $('#account-email').textContent = account.email || '';
  renderVerifyBanner();
  renderPolicyBanner();
  $('#login-form').reset();
  $('#signup-form').reset();
  $('#loading').hidden = true;
  $('#auth').hidden = true;
  $('#app').hidden = false;
  route(false);
}

/** Reads the account again (its Instagram connection may have changed). */
export async function refreshAccount() {
  const data = await api('GET', '/api/auth/me');
  state.account = data.account;
  $('#account-email').textContent = data.account.email || '';
  renderVerifyBanner();
  renderPolicyBanner();
  return data.account;
}

export function setupSession() {
  onSessionEnded(() => showSignedOut('Your session has ended. Please sign in again.', true));

  $('#login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const email = $('#login-email').value.trim();
    const password = $('#login-password').value;
    if (!email) { need(form, $('#login-email'), 'Enter your email address.'); return; }
    if (!password) { need(form, $('#login-password'), 'Enter your password.'); return; }
    busy(form, async () => {
      const data = await api('POST', '/api/auth/login', { email, password });
      clearMessage();
      enterApp(data.account);
    });
  });

  $('#signup-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const email = $('#signup-email').value.trim();
    const password = $('#signup-password').value;
    if (!email) { need(form, $('#signup-email'), errorWords('invalid_email')); return; }
    busy(form, async () => {
      await checkNewPassword(password, $('#signup-password'));
      const config = await loadConfig();
      const signup = { email, password };
      if (config && config.privacyPolicyVersion) signup.privacy_policy_version = config.privacyPolicyVersion;
      await api('POST', '/api/auth/signup', signup);
      try {
        const data = await api('POST', '/api/auth/login', { email, password });
        notify('Welcome to Flowtalk! Your account is ready. We mailed you a link to verify your email address.');
        enterApp(data.account);
      } catch (err) {
        if (err.code === 'invalid_credentials') {
          throw formError('Could not sign in with this email and password. If you already have an account, use "Sign in" with your existing password.');
        }
        throw err;
      }
    });
  });

  $('#logout-button').addEventListener('click', async () => {
    try {
      await api('POST', '/api/auth/logout', {});
      showSignedOut('You are signed out.');
    } catch (err) {
      report(err);
    }
  });
}
