// The account page: export (a plain link), change the password, change the email, delete the account.

import { $, notify } from '../dom.js';
import { api, busy, formError } from '../api.js';
import { need } from '../feedback.js';
import { checkNewPassword, showPasswordRule } from '../password.js';
import { registerPage } from '../router.js';
import { showSignedOut } from './session.js';

async function changePassword(form, current, next) {
  await checkNewPassword(next, $('#new-password'));
  try {
    await api('POST', '/api/auth/password', { current_password: current, new_password: next });
  } catch (err) {
    if (err.code === 'invalid_credentials') throw formError('The current password is incorrect.', $('#current-password'));
    throw err;
  }
  form.reset();
  notify('Password changed. Your other devices have been signed out.');
}

async function changeEmail(form, email, password) {
  try {
    await api('POST', '/api/account/email', { email, password });
  } catch (err) {
    if (err.code === 'invalid_credentials') throw formError('The password is incorrect. Your email was not changed.', $('#email-password'));
    throw err;
  }
  form.reset();
  notify(`We sent a link to ${email}. Your email changes when you open it; until then, sign in with the current one.`);
}

async function deleteAccount(password) {
  try {
    await api('DELETE', '/api/account', { password });
  } catch (err) {
    if (err.code === 'invalid_credentials') throw formError('The password is incorrect. Your account was not deleted.', $('#delete-password'));
    throw err;
  }
  showSignedOut('Your account and all its data have been deleted.');
}

export function setupAccount() {
  registerPage('account', {
    load: () => { $('#password-form').reset(); $('#email-form').reset(); $('#delete-form').reset(); return showPasswordRule(); },
  });

  $('#password-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const current = $('#current-password').value;
    const next = $('#new-password').value;
    if (!current) { need(form, $('#current-password'), 'Enter your current password.'); return; }
    busy(form, () => changePassword(form, current, next));
  });

  $('#email-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const email = $('#new-email').value.trim();
    const password = $('#email-password').value;
    if (!email) { need(form, $('#new-email'), 'Enter the new email address.'); return; }
    if (!password) { need(form, $('#email-password'), 'Enter your password.'); return; }
    busy(form, () => changeEmail(form, email, password));
  });

  $('#delete-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const password = $('#delete-password').value;
    if (!password) { need(form, $('#delete-password'), 'Type your password to confirm.'); return; }
    if (!window.confirm('Delete your Flowtalk account and all its data for good? This cannot be undone.')) return;
    busy(form, () => deleteAccount(password));
  });
}
