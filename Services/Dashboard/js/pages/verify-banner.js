// The "verify your email" banner while the account's address is unverified, with "Send the link again".

import { $, notify } from '../dom.js';
import { api, busy } from '../api.js';
import { state } from '../state.js';

/** Shows or hides the banner for the signed-in account. */
export function renderVerifyBanner() {
  const account = state.account;
  const unverified = Boolean(account && account.email_verified === false);
  $('#verify-banner').hidden = !unverified;
  if (unverified) $('#verify-email-address').textContent = account.email || '';
}

export function setupVerifyBanner() {
  const button = $('#verify-resend');
  button.addEventListener('click', () => {
    busy(button.parentElement, async () => {
      const data = await api('POST', '/api/auth/verify/resend', {});
      if (data && data.status === 'already_verified') {
        state.account.email_verified = true;
        renderVerifyBanner();
        notify('Your email address is verified already.');
      } else {
        notify('We sent a new link. Check your inbox (and the spam folder).');
      }
    });
  });
}
