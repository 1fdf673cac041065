// The account page: export (a plain link), change the password, change the email, delete the account.

import { $, notify } from '../dom.js';
import { api, busy, formError } from '../api.js';
import { checkNewPassword, showPasswordRule } from '../password.js';
import { registerPage } from '../router.js';
import { showSignedOut } from './session.js';

async function changePassword(form, current, next) {
  await checkNewPassword(next, $('#new-password'));
  try {
    await api('POST', '/api/auth/password', { current_password: current, new_password: next });
  } catch (err) {
    if (err.code === 'invalid_credentials') throw formError('The current password is incorrect.', 401);
    throw err;
  }
  form.reset();
  notify('Password changed. Your other devices have been signed out.');
}

async function changeEmail(form, email, password) {
  try {
    await api('POST', '/api/account/email', { email, password });
  } catch (err) {
    if (err.code === 'invalid_credentials') throw formError('The password is incorrect. Your email was not changed.', 401);
    throw err;
  }
  form.reset();
  notify(`We sent a link to ${email}. Your email changes when you open it; until then, sign in with the current one.`);
}

async function deleteAccount(password) {
  try {
    await api('DELETE', '/api/account', { password });
  } catch (err) {
    if (err.code === 'invalid_credentials') throw formError('The password is incorrect. Your account was not deleted.', 401);
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
    if (!current) { notify('Enter your current password.', true); $('#current-password').focus(); return; }
    busy(form, () => changePassword(form, current, next));
  });

  $('#email-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const email = $('#new-email').value.trim();
    const password = $('#email-password').value;
    if (!email) { notify('Enter the new email address.', true); $('#new-email').focus(); return; }
    if (!password) { notify('Enter your password.', true); $('#email-password').focus(); return; }
    busy(form, () => changeEmail(form, email, password));
  });

  $('#delete-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const password = $('#delete-password').value;
    if (!password) { notify('Type your password to confirm.', true); $('#delete-password').focus(); return; }
    if (!window.confirm('Delete your Flowtalk account and all its data for good? This cannot be undone.')) return;
    busy(form, () => deleteAccount(password));
  });
}
