// The password rule, as the server states it (GET /api/config → password_min_length), counted the way the server
// counts it: Swift's String.count counts grapheme clusters (what a person sees as one character).

import { $$ } from './dom.js';
import { formError, loadConfig } from './api.js';

const segmenter = (() => {
  try { return new Intl.Segmenter(undefined, { granularity: 'grapheme' }); } catch { return null; }
})();

/** The number of characters in `text` as the server counts them (code points where Intl.Segmenter is missing). */
export function characterCount(text) {
  if (segmenter) {
    let n = 0;
    for (const _ of segmenter.segment(text)) n += 1; // eslint-disable-line no-unused-vars
    return n;
  }
  return Array.from(text).length;
}

/** Writes the server's minimum into the password hints (`.password-rule`); null while the server has not said. */
export async function showPasswordRule() {
  const min = (await loadConfig())?.passwordMinLength ?? null;
  if (min != null) for (const span of $$('.password-rule')) span.textContent = `At least ${min} characters. `;
  return min;
}

/** Throws a form error when a new password is shorter than the server's minimum. Unknown minimum: the server decides. */
export async function checkNewPassword(password, input) {
  const min = await showPasswordRule();
  if (min != null && characterCount(password) < min) {
    throw formError(`The password needs at least ${min} characters.`, input);
  }
}
