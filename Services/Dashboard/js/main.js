// Flowtalk dashboard: the entry module (index.html loads it with <script type="module">). Native ES modules, no
// build step, no inline code (strict CSP).

// First: a mailed link's token leaves the address bar before anything else runs.
import { linkFromAddress } from './link-token.js';
import { api, report } from './api.js';
import { notify } from './dom.js';
import { showPasswordRule } from './password.js';
import { startRouter } from './router.js';
import { attachMeter } from './strength.js';
import { attachCounters } from './counters.js';
import { setupAccount } from './pages/account.js';
import { setupCustomers } from './pages/customers.js';
import { setupActivity } from './pages/activity.js';
import { setupAI } from './pages/ai.js';
import { setupConnection, takeInstagramNotice } from './pages/connection.js';
import { setupIceBreakers } from './pages/ice-breakers.js';
import { setupForgotPassword, showLinkPage } from './pages/links.js';
import { setupRules } from './pages/rules.js';
import { enterApp, setupSession, showSignedOut } from './pages/session.js';
import { setupStats } from './pages/stats.js';
import { setupTry } from './pages/try.js';
import { setupPolicyBanner } from './pages/policy-banner.js';
import { setupVerifyBanner } from './pages/verify-banner.js';

async function start() {
  const link = linkFromAddress();
  if (link) {
    showLinkPage(link);
    return;
  }
  setupSession();
  setupForgotPassword();
  setupVerifyBanner();
  setupPolicyBanner();
  setupConnection();
  setupRules();
  setupTry();
  setupIceBreakers();
  setupAI();
  setupStats();
  setupActivity();
  setupAccount();
  setupCustomers();
  startRouter();
  attachCounters();
  for (const id of ['signup-password', 'new-password', 'reset-password']) {
    const input = document.getElementById(id);
    if (input) attachMeter(input);
  }

  const notice = takeInstagramNotice();
  showPasswordRule(); // also fetches /api/config, which the statistics need
  try {
    const data = await api('GET', '/api/auth/me');
    enterApp(data.account);
    if (notice) notify(notice.text, notice.error);
  } catch (err) {
    showSignedOut();
    if (err.status === 401) {
      if (notice) notify('Please sign in, then connect Instagram again.', false);
    } else {
      report(err);
    }
  }
}

start();
