// The Ice Breakers page: up to four question and answer rows, saved together.

import { $, $$, el, notify } from '../dom.js';
import { api, busy, formError } from '../api.js';
import { attachCounters } from '../counters.js';
import { registerPage } from '../router.js';

const MAX_ICE_BREAKERS = 4;
let rowCounter = 0;

function addIceBreakerRow(item = { question: '', answer: '' }) {
  const rows = $('#ib-rows');
  if (rows.children.length >= MAX_ICE_BREAKERS) return null;
  const n = ++rowCounter;
  const question = el('input', { id: `ib-q-${n}`, type: 'text', className: 'ib-question', autocomplete: 'off', dataset: { max: '80' } });
  const answer = el('textarea', { id: `ib-a-${n}`, rows: '2', className: 'ib-answer', autocomplete: 'off', dataset: { max: '1000' } });
  question.value = item.question || '';
  answer.value = item.answer || '';
  const remove = el('button', { type: 'button', className: 'secondary small ib-remove', text: 'Remove' });
  const row = el('fieldset', { className: 'ib-row' },
    el('legend'),
    el('label', { for: question.id, text: 'Question' }), question,
    el('label', { for: answer.id, text: 'Answer Flowtalk sends' }), answer,
    remove);
  remove.addEventListener('click', () => {
    row.remove();
    updateIceBreakerRows();
    $('#ib-add').focus();
  });
  rows.append(row);
  attachCounters(row);
  updateIceBreakerRows();
  return row;
}

function updateIceBreakerRows() {
  const rows = $$('#ib-rows .ib-row');
  rows.forEach((row, i) => {
    $('legend', row).textContent = `Question ${i + 1}`;
    $('.ib-remove', row).setAttribute('aria-label', `Remove question ${i + 1}`);
  });
  const full = rows.length >= MAX_ICE_BREAKERS;
  $('#ib-add').disabled = full;
  $('#ib-add').textContent = full ? `Instagram allows at most ${MAX_ICE_BREAKERS} questions` : 'Add a question';
}

function renderIceBreakers(items) {
  $('#ib-rows').replaceChildren();
  for (const item of items.slice(0, MAX_ICE_BREAKERS)) addIceBreakerRow(item);
  if (!items.length) addIceBreakerRow();
  updateIceBreakerRows();
}

async function loadIceBreakers() {
  const data = await api('GET', '/api/ice-breakers');
  renderIceBreakers((data && data.items) || []);
}

async function saveIceBreakers() {
  const items = [];
  for (const row of $$('#ib-rows .ib-row')) {
    const question = $('.ib-question', row).value.trim();
    const answer = $('.ib-answer', row).value.trim();
    if (!question && !answer) continue;
    if (!question) throw formError('Each answer needs a question.', $('.ib-question', row));
    if (!answer) throw formError('Each question needs an answer.', $('.ib-answer', row));
    // The server names a wrong field by its place among the saved items.
    $('.ib-question', row).dataset.field = `items.${items.length}.question`;
    $('.ib-answer', row).dataset.field = `items.${items.length}.answer`;
    items.push({ question, answer });
  }
  const data = await api('PUT', '/api/ice-breakers', { items });
  renderIceBreakers((data && data.items) || items);
  notify(items.length
    ? 'Ice Breakers saved. Instagram shows the change within a few minutes.'
    : 'Ice Breakers removed.');
}

export function setupIceBreakers() {
  registerPage('ice-breakers', { load: loadIceBreakers });
  $('#ib-add').addEventListener('click', () => {
    const row = addIceBreakerRow();
    if (row) $('.ib-question', row).focus();
  });
  $('#ice-breakers-form').addEventListener('submit', (event) => {
    event.preventDefault();
    // busy() re-enables every button, including a full form's "Add".
    busy(event.currentTarget, saveIceBreakers).then(updateIceBreakerRows);
  });
}
