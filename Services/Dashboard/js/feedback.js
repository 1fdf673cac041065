// Feedback where the eye is: an error goes next to the field it is about (aria-invalid, role=alert, focus moved there),
// or, when it is about no field, next to the button that caused it. The banner under the top bar is for page-level news.

import { $, $$, el } from './dom.js';

// Error codes that are about one field, by the field's data-field name.
const CODE_FIELDS = {
  invalid_email: 'email',
  same_email: 'email',
  email_taken: 'email',
  password_too_short: 'password',
  password_too_common: 'password',
  password_too_long: 'password',
  password_invalid: 'password',
  text_too_long: 'text',
  invalid_query: 'q',
};

function describedBy(input, add, remove) {
  const ids = (input.getAttribute('aria-describedby') || '').split(/\s+/).filter((id) => id && id !== remove);
  if (add && !ids.includes(add)) ids.unshift(add);
  if (ids.length) input.setAttribute('aria-describedby', ids.join(' '));
  else input.removeAttribute('aria-describedby');
}

/** Removes a form's error messages and marks. */
export function clearFeedback(form) {
  if (!form) return;
  for (const input of $$('[aria-invalid="true"]', form)) {
    input.removeAttribute('aria-invalid');
    describedBy(input, null, `${input.id}-error`);
  }
  for (const node of $$('.field-error, .form-error', form)) node.remove();
}

/** Shows `message` under `input`, marks it invalid and moves focus to it. */
export function fieldError(input, message) {
  const id = `${input.id}-error`;
  $(`#${CSS.escape(id)}`)?.remove();
  const note = el('p', { id, className: 'field-error', role: 'alert', text: message });
  const anchor = input.closest('.check') || input;
  anchor.insertAdjacentElement('afterend', note);
  input.setAttribute('aria-invalid', 'true');
  describedBy(input, id);
  input.focus();
}

/** Shows `message` just above the form's buttons (or `button`'s row) and moves focus to it. */
export function formErrorNear(form, message, button) {
  for (const node of $$('.form-error', form)) node.remove();
  const note = el('p', { className: 'form-error', role: 'alert', tabindex: '-1', text: message });
  const target = button || $('button[type="submit"]', form) || $$('button', form).pop();
  const row = target ? (target.closest('.actions') || target) : null;
  if (row && form.contains(row)) row.insertAdjacentElement('beforebegin', note);
  else form.append(note);
  note.focus();
}

/** The field an error is about: the one the page named, the server's `field`, or the one its code implies. */
export function fieldFor(form, err) {
  if (!form || !err) return null;
  if (err.input && form.contains(err.input)) return err.input;
  const name = err.field || CODE_FIELDS[err.code];
  if (!name) return null;
  return $(`[data-field="${CSS.escape(name)}"]`, form);
}

/** A field the page found empty or wrong before asking the server: the message under it, focus on it. */
export function need(form, input, message) {
  clearFeedback(form);
  fieldError(input, message);
}
