// The pages mailed links open: verify an address (/verify-email, /confirm-email), set a new password
// (/reset-password). The token was already taken out of the address bar by link-token.js.

import { $, notify } from '../dom.js';
import { api, busy, formError, friendly, report } from '../api.js';
import { need } from '../feedback.js';
import { checkNewPassword, showPasswordRule } from '../password.js';

const TITLES = {
  'verify-email': 'Verify your email address',
  'confirm-email': 'Confirm your new email address',
  'reset-password': 'Set a new password',
};

function done(text, isError = false) {
  const result = $('#link-result');
  result.textContent = text;
  result.classList.toggle('error-text', isError);
  $('#link-continue').hidden = false;
}

async function verify(token) {
  $('#link-result').textContent = 'Checking the link…';
  try {
    const data = await api('POST', '/api/auth/verify', { token });
    done(data.status === 'email_changed'
      ? 'Your email address was changed. Sign in with the new address from now on.'
      : 'Your email address is verified. You can now connect Instagram.');
  } catch (err) {
    done(friendly(err), true);
  }
}

function setupReset(token) {
  const form = $('#reset-form');
  form.hidden = false;
  showPasswordRule();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const password = $('#reset-password').value;
    const again = $('#reset-password-again').value;
    busy(form, async () => {
      await checkNewPassword(password, $('#reset-password'));
      if (password !== again) throw formError('The two passwords are not the same.', $('#reset-password-again'));
      await api('POST', '/api/auth/password-reset/confirm', { token, password });
      form.reset();
      form.hidden = true;
      done('Your password was changed and every device signed out. Sign in with the new password.');
    });
  });
}

/** Shows the page of a mailed link instead of the dashboard. */
export function showLinkPage({ page, token }) {
  $('#loading').hidden = true;
  $('#link-page').hidden = false;
  $('#link-title').textContent = TITLES[page];
  if (!token) {
    done('This link is incomplete. Open the link from the mail again, or ask for a new one.', true);
    return;
  }
  if (page === 'reset-password') setupReset(token);
  else verify(token).catch(report);
}

/** "Forgot password?" on the sign-in card: asks for a reset link; the answer never says whether the address has an account. */
export function setupForgotPassword() {
  const form = $('#forgot-form');
  $('#forgot-link').addEventListener('click', () => {
    form.hidden = false;
    $('#forgot-email').value = $('#login-email').value.trim();
    $('#forgot-email').focus();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const email = $('#forgot-email').value.trim();
    if (!email) { need(form, $('#forgot-email'), 'Enter the email address of your account.'); return; }
    busy(form, async () => {
      await api('POST', '/api/auth/password-reset', { email });
      $('#forgot-sent').textContent = 'If an account exists for this address, we sent it a link to set a new password. It works for 30 minutes.';
    });
  });
}
