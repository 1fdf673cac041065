// The "our privacy policy changed" notice while the account has not accepted the version in force, with "I have read it".

import { $, notify } from '../dom.js';
import { api, busy } from '../api.js';
import { state } from '../state.js';

/** Shows or hides the notice for the signed-in account. */
export function renderPolicyBanner() {
  const policy = state.account && state.account.privacy_policy;
  const outdated = Boolean(policy && policy.accepted_version !== policy.current_version);
  $('#policy-banner').hidden = !outdated;
  if (outdated) $('#policy-version').textContent = policy.current_version;
}

export function setupPolicyBanner() {
  const button = $('#policy-accept');
  button.addEventListener('click', () => {
    const policy = state.account && state.account.privacy_policy;
    if (!policy) return;
    busy(button.parentElement, async () => {
      await api('POST', '/api/account/privacy-policy', { version: policy.current_version });
      policy.accepted_version = policy.current_version;
      renderPolicyBanner();
      notify('Thank you. The privacy policy is linked at the bottom of every page.');
    });
  });
}
