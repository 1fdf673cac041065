// The AI and timing settings page.

import { $, notify } from '../dom.js';
import { api, busy } from '../api.js';
import { intValue } from '../format.js';
import { refreshCounters } from '../counters.js';
import { registerPage } from '../router.js';

function fillSettings(s) {
  $('#ai-enabled').checked = Boolean(s.ai_enabled);
  $('#ai-description').value = s.business_description || '';
  $('#ai-tone').value = s.ai_tone || '';
  $('#ai-fallback').value = s.fallback_text || '';
  $('#ai-memory').checked = Boolean(s.ai_memory);
  $('#ai-budget').value = String(s.ai_daily_budget ?? '');
  $('#cooldown-seconds').value = String(s.cooldown_seconds ?? '');
  $('#human-pause-minutes').value = String(s.human_pause_minutes ?? '');
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
    ai_memory: $('#ai-memory').checked,
    ai_daily_budget: intValue($('#ai-budget'), 'The daily AI answer limit'),
    cooldown_seconds: intValue($('#cooldown-seconds'), 'The time before an answer may repeat'),
    human_pause_minutes: intValue($('#human-pause-minutes'), 'The pause after you answer'),
  };
  const data = await api('PUT', '/api/settings', body);
  if (data && data.settings) fillSettings(data.settings);
  notify(body.ai_enabled && !body.business_description.trim()
    ? 'Settings saved. Tip: describe your business so the AI has facts to answer from.'
    : 'Settings saved.');
}

export function setupAI() {
  registerPage('ai', { load: loadSettings });
  $('#ai-form').addEventListener('submit', (event) => {
    event.preventDefault();
    busy(event.currentTarget, saveSettings);
  });
}
