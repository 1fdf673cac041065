// The settings page: AI replies, timing, and (settings-hours.js) the welcome, bot notice and business hours, saved
// together with one PUT /api/settings.

import { $, el, notify } from '../dom.js';
import { api, busy } from '../api.js';
import { intValue } from '../format.js';
import { refreshCounters } from '../counters.js';
import { registerPage } from '../router.js';
import { fillHours, hoursBody, setupHours } from './settings-hours.js';

function fillSettings(s) {
  $('#ai-enabled').checked = Boolean(s.ai_enabled);
  $('#ai-description').value = s.business_description || '';
  $('#ai-tone').value = s.ai_tone || '';
  $('#ai-fallback').value = s.fallback_text || '';
  $('#ai-hand-off').checked = Boolean(s.ai_hand_off);
  $('#ai-memory').checked = Boolean(s.ai_memory);
  $('#ai-budget').value = String(s.ai_daily_budget ?? '');
  $('#cooldown-seconds').value = String(s.cooldown_seconds ?? '');
  $('#human-pause-minutes').value = String(s.human_pause_minutes ?? '');
  fillHours(s);
  refreshCounters($('#ai-form'));
}

async function loadSettings() {
  const data = await api('GET', '/api/settings');
  fillSettings((data && data.settings) || {});
}

async function saveSettings() {
  const body = {
    ai_enabled: $('#ai-enabled').checked,
    business_description: $('#ai-description').value,
    ai_tone: $('#ai-tone').value,
    fallback_text: $('#ai-fallback').value,
    ai_hand_off: $('#ai-hand-off').checked,
    ai_memory: $('#ai-memory').checked,
    ai_daily_budget: intValue($('#ai-budget'), 'The daily AI answer limit'),
    cooldown_seconds: intValue($('#cooldown-seconds'), 'The time before an answer may repeat'),
    human_pause_minutes: intValue($('#human-pause-minutes'), 'The pause after you answer'),
    ...hoursBody(),
  };
  const data = await api('PUT', '/api/settings', body);
  if (data && data.settings) fillSettings(data.settings);
  notify(body.ai_enabled && !body.business_description.trim()
    ? 'Settings saved. Tip: describe your business so the AI has facts to answer from.'
    : 'Settings saved.');
}

/** "Hand the conversation to me" goes under the fallback message it replaces. */
function addHandOff() {
  const input = el('input', { id: 'ai-hand-off', type: 'checkbox', 'aria-describedby': 'ai-hand-off-hint', dataset: { field: 'ai_hand_off' } });
  $('#ai-fallback-hint').after(
    el('div', { className: 'check' }, input,
      el('label', { for: 'ai-hand-off', text: 'When the AI cannot help, hand the conversation to me instead of sending the fallback' })),
    el('p', { id: 'ai-hand-off-hint', className: 'hint',
      text: 'The bot then stays quiet with that customer as long as “Pause the bot after you answer yourself” below says, and the conversation shows as “waiting for you” in Activity.' }));
}

export function setupAI() {
  registerPage('ai', { load: loadSettings });
  addHandOff();
  setupHours();
  $('#ai-form').addEventListener('submit', (event) => {
    event.preventDefault();
    busy(event.currentTarget, saveSettings);
  });
}
