// Small formatting and parsing helpers for dates, numbers and form fields.

import { formError } from './api.js';

export const TIME_ZONE = (() => {
  try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch { return 'UTC'; }
})();

export const splitList = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);
const pad = (n) => String(n).padStart(2, '0');
export const ymd = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
export const parseDay = (s) => {
  const [y, m, d] = String(s).split('-').map(Number);
  return new Date(y, m - 1, d);
};
export const dayLabel = (s, opts = { day: 'numeric', month: 'short' }) => parseDay(s).toLocaleDateString(undefined, opts);
export const num = (v) => String(Number(v) || 0);
export const ms = (v) => (v == null ? '—' : `${Math.round(v)} ms`);
export const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

/** The whole number in a field, or a form error naming the field. */
export function intValue(input, label) {
  const raw = input.value.trim();
  if (!/^-?\d+$/.test(raw)) {
    throw formError(`${label} must be a whole number.`, input);
  }
  return parseInt(raw, 10);
}
