// Mailed links open /verify-email, /confirm-email or /reset-password with ?token=…. main.js imports this module first,
// so the token is read and removed from the address bar (history.replaceState) before any other module runs or any
// request is made: it stays out of the history, the screen and any Referer (the server also sends no-referrer).

const LINK_PAGES = ['/verify-email', '/confirm-email', '/reset-password'];

let taken = null;
if (LINK_PAGES.includes(location.pathname)) {
  const token = new URLSearchParams(location.search).get('token') || '';
  history.replaceState(null, '', location.pathname);
  taken = { page: location.pathname.slice(1), token };
}

/** The mailed link this page was opened with, `{ page, token }` (token '' when the address had none), or null. */
export const linkFromAddress = () => taken;
