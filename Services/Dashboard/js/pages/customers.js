// "A customer's data" on the account page: find a customer by id or phrase, download what is held about them (a plain
// link to GET /api/customers/{id}) or erase it (DELETE, after a confirmation).

import { $, el, notify } from '../dom.js';
import { api, busy } from '../api.js';

function customerRow(customer) {
  const id = customer.customer_id;
  const erase = el('button', { type: 'button', className: 'danger small', text: 'Erase' });
  erase.addEventListener('click', () => {
    if (!window.confirm(`Erase everything this account holds about customer ${id}? This cannot be undone.`)) return;
    busy(erase.parentElement, async () => {
      const data = await api('DELETE', `/api/customers/${encodeURIComponent(id)}`);
      const gone = data && data.erased ? data.erased : {};
      erase.parentElement.remove();
      notify(`Erased: ${gone.activity || 0} activity entries, ${gone.conversations || 0} conversation, ${gone.replies || 0} replies, `
        + `${gone.queued_messages || 0} queued messages.`);
    });
  });
  const last = customer.last_seen_at ? new Date(customer.last_seen_at).toLocaleString() : '—';
  return el('li', { className: 'customer-row' },
    el('span', { text: `${id} · ${customer.activity_entries} activity entries · last ${last}` }),
    el('a', { className: 'button secondary small', href: `/api/customers/${encodeURIComponent(id)}`, text: 'Download JSON' }),
    erase);
}

export function setupCustomers() {
  $('#customer-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const query = $('#customer-query').value.trim();
    busy(form, async () => {
      const data = await api('GET', `/api/customers?q=${encodeURIComponent(query)}`);
      const list = $('#customer-results');
      list.replaceChildren(...(data.customers || []).map(customerRow));
      $('#customer-none').hidden = list.children.length > 0;
    });
  });
}
