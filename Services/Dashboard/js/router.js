// The signed-in pages, one per #hash: shows the page, marks its link, loads its data.

import { $, $$, clearMessage } from './dom.js';
import { report } from './api.js';
import { state } from './state.js';
import { refreshHealth } from './pages/health.js';
import { renderOnboarding } from './pages/onboarding.js';

const pages = new Map(); // name → { load, reset }

/** Registers a page: `load` runs each time it is shown, `reset` when the account signs out. */
export function registerPage(name, { load = () => {}, reset = () => {} } = {}) {
  pages.set(name, { load, reset });
}

/** Forgets what every page holds of the previous account. */
export function resetPages() {
  for (const page of pages.values()) page.reset();
}

const defaultPage = () => (state.account && state.account.instagram ? 'stats' : 'connection');

/** Shows the page in the address bar's hash (the default page when it names none). */
export function route(moveFocus) {
  if (!state.account) return;
  let page = location.hash.slice(1);
  if (!pages.has(page)) {
    page = defaultPage();
    history.replaceState(null, '', `${location.pathname}${location.search}#${page}`);
  }
  for (const name of pages.keys()) $(`#page-${name}`).hidden = name !== page;
  for (const link of $$('.nav a')) {
    if (link.getAttribute('href') === `#${page}`) {
      link.setAttribute('aria-current', 'page');
      // On a phone the menu scrolls sideways: keep the current page's link in sight.
      if (link.parentElement.parentElement.scrollWidth > link.parentElement.parentElement.clientWidth) {
        link.scrollIntoView({ block: 'nearest', inline: 'nearest' });
      }
    } else link.removeAttribute('aria-current');
  }
  // A title per page, so history, tabs and screen readers say where one is.
  const heading = $(`#page-${page} h1`);
  document.title = `${heading ? heading.textContent : page} — Flowtalk`;
  if (moveFocus) {
    heading.setAttribute('tabindex', '-1');
    heading.focus();
  }
  // Every page shows the health strip; pages that depend on it (the checklist, empty states) wait for it.
  refreshHealth().then(() => { renderOnboarding(); return pages.get(page).load(); }).catch(report);
}

/** Follows the hash as the person clicks the navigation; the link of the page shown loads it again (no hashchange). */
export function startRouter() {
  window.addEventListener('hashchange', () => {
    if (!state.account) return;
    clearMessage();
    route(true);
  });
  for (const link of $$('.nav a')) {
    link.addEventListener('click', () => {
      if (state.account && link.getAttribute('href') === location.hash) route(false);
    });
  }
}
