// Flowtalk dashboard. Plain ES2020, no build step, no inline code (strict CSP).
// Server text is only ever written with textContent / attributes, never parsed as HTML.
'use strict';

(() => {
  const $ = (selector, root = document) => root.querySelector(selector);
  const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

  const PAGES = ['connection', 'rules', 'ice-breakers', 'ai', 'stats', 'activity', 'account'];
  const MAX_ICE_BREAKERS = 4;
  const TIME_ZONE = (() => {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch { return 'UTC'; }
  })();

  const state = {
    account: null,
    analyticsURL: null,
    rules: [],
    editingRuleId: null,
    statsDays: 7,
    statsRequest: 0,
    activityRequest: 0,
    activityBefore: null,
    ibCounter: 0,
  };

  // ---------------------------------------------------------------- words

  const ERROR_WORDS = {
    network: 'Cannot reach Flowtalk. Check your internet connection and try again.',
    analytics_network: 'Cannot reach Flowtalk statistics right now. Try again in a moment.',
    analytics_unavailable: 'Statistics are not available right now. Try again in a moment.',
    invalid_credentials: 'Email or password is incorrect.',
    password_too_short: 'The password needs at least 10 characters.',
    password_too_common: 'This password is too common and easy to guess. Please choose another one.',
    password_too_long: 'This password is too long. Please choose a shorter one.',
    password_invalid: 'This password contains characters that cannot be used. Please choose another one.',
    invalid_email: 'Please enter a valid email address.',
    rate_limited: 'Too many attempts, wait a few minutes.',
    unauthorized: 'Please sign in again.',
    cross_site_request: 'Flowtalk refused this request for your safety. Reload the page and try again.',
    json_required: 'Flowtalk refused this request. Reload the page and try again.',
    payload_too_large: 'That text is too long.',
    not_found: 'This item no longer exists. The page has been refreshed.',
    internal: 'Flowtalk had a problem. Please try again in a moment.',
    unavailable: 'Flowtalk is temporarily unavailable. Please try again in a moment.',
  };
  // Codes whose server message explains the problem in words (e.g. which field is wrong).
  const EXPLAINED = {
    invalid_rule: 'The rule was not saved: ',
    invalid_settings: 'The settings were not saved: ',
    invalid_ice_breakers: 'The Ice Breakers were not saved: ',
    conflict: '',
  };

  const REASONS = {
    no_rule: 'No rule matched',
    rule_removed: 'The rule was removed before the reply could go out',
    fallback_removed: 'The fallback text was removed before it could go out',
    attachment_only: 'A photo, video or sticker without text',
    ai_disabled: 'AI was turned off before it answered',
    cooldown: 'Replied to this customer a moment ago',
    human_active: 'You were answering this customer yourself',
    human_reply: 'You answered yourself; the bot paused',
    outside_window: 'Message older than 24 hours (Instagram does not allow a reply)',
    from_business: 'Your own message',
    needs_reconnect: 'Instagram needs to be reconnected',
    token_invalid: 'Instagram access expired — reconnect',
    token_unreadable: 'Instagram access could not be read — reconnect',
    recipient_unavailable: 'This customer cannot receive messages right now',
    rate_limited: 'Instagram asked Flowtalk to slow down',
    transient_error: 'Instagram had a temporary problem',
    malformed_response: 'Instagram gave an unexpected answer',
    interrupted_while_sending: 'Unclear whether the reply arrived',
    no_answer: 'Unclear whether the reply arrived',
    confirmed_by_echo: 'Instagram confirmed the reply arrived',
    ai_cannot_help: 'The AI could not answer from your facts',
    ai_timeout: 'The AI took too long',
    ai_rate_limited: 'The AI service was busy',
    ai_server_error: 'The AI service had a problem',
    ai_unreachable: 'The AI service could not be reached',
    ai_auth_failed: 'The server\'s AI key was refused',
    ai_rejected: 'The AI service refused the request',
    ai_malformed_answer: 'The AI gave an unusable answer',
    ai_budget_exhausted: 'Today\'s AI budget is used up',
    ai_conversation_limit: 'The AI already answered this customer enough today',
    ai_circuit_open: 'The AI service is having problems',
    ai_not_configured: 'AI is on, but the server has no AI key',
    message_deleted: 'The customer deleted the message',
    incomplete_event: 'Instagram sent an incomplete message',
    edit_without_text: 'An edited message without text',
    no_text: 'A message without text (photo, sticker…)',
    is_echo: 'Your own message',
    is_deleted: 'The customer deleted the message',
    is_unsupported: 'A kind of message Flowtalk does not handle',
  };
  const reasonText = (code) => {
    if (!code) return '';
    if (REASONS[code]) return REASONS[code];
    if (/^graph_error_\d+$/.test(code)) return `Instagram refused the reply (error ${code.slice(12)})`;
    return code.replace(/_/g, ' ');
  };

  const INSTAGRAM_ERRORS = {
    expired_or_invalid_state: 'The connection took too long or was started in another tab. Please try again.',
    denied: 'The connection was cancelled on Instagram. Flowtalk was not given access.',
    instagram_error: 'Instagram reported a problem. Please try again in a few minutes.',
    missing_code: 'Instagram did not finish the connection. Please try again.',
    instagram_refused: 'Instagram refused the connection. Check that it is a Business or Creator account and try again.',
    connected_to_another_account: 'This Instagram account is already connected to another Flowtalk account.',
  };

  const MATCH_WORDS = {
    contains: 'Message contains a keyword',
    exact: 'Message is exactly a keyword',
    starts_with: 'Message starts with a keyword',
    any_word: 'Message contains any word of a keyword',
    regex: 'Pattern',
  };

  const SOURCE_WORDS = {
    rule: 'Replied with a rule',
    ai: 'Replied by the AI',
    ice_breaker: 'Answered an Ice Breaker',
    fallback: 'Sent your fallback message',
  };
  const OUTCOME_WORDS = {
    replied: 'Replied',
    skipped: 'Not answered',
    failed: 'Could not send the reply',
    unknown: 'Unclear whether the reply arrived',
    paused: 'Bot paused',
    ignored: 'Ignored',
  };

  // ---------------------------------------------------------------- notices

  function notify(text, isError = false) {
    const box = $('#message');
    box.textContent = text;
    box.classList.toggle('error', Boolean(isError && text));
  }
  const clearMessage = () => notify('');

  function friendly(err) {
    if (!(err instanceof ApiError)) return ERROR_WORDS.internal;
    if (ERROR_WORDS[err.code]) return ERROR_WORDS[err.code];
    if (err.code in EXPLAINED && err.message) return EXPLAINED[err.code] + err.message;
    if (err.status >= 500) return ERROR_WORDS.internal;
    return err.message || 'Something went wrong. Please try again.';
  }
  function report(err) {
    if (err && err.handled) return;
    if (!(err instanceof ApiError)) console.error(err); // eslint-disable-line no-console
    notify(friendly(err), true);
  }

  // ---------------------------------------------------------------- HTTP

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message || code);
      this.status = status;
      this.code = code;
      this.handled = false;
    }
  }

  async function request(url, options, networkCode) {
    let response;
    try {
      response = await fetch(url, options);
    } catch {
      throw new ApiError(0, networkCode, '');
    }
    let data = null;
    const text = response.status === 204 ? '' : await response.text().catch(() => '');
    if (text) {
      try { data = JSON.parse(text); } catch { data = null; }
    }
    if (!response.ok) {
      const error = (data && data.error) || {};
      const fallback = response.status === 429 ? 'rate_limited' : response.status >= 500 ? 'internal' : `http_${response.status}`;
      throw new ApiError(response.status, error.code || fallback, error.message || '');
    }
    return data;
  }

  function sessionEnded(err) {
    if (state.account) {
      showSignedOut('Your session has ended. Please sign in again.');
    }
    err.handled = true;
  }

  /** Same-origin auth API. State-changing calls always send a JSON body. */
  async function api(method, path, body) {
    const options = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (method !== 'GET') {
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body || {});
    }
    try {
      return await request(path, options, 'network');
    } catch (err) {
      if (err.status === 401 && err.code !== 'invalid_credentials' && state.account) sessionEnded(err);
      throw err;
    }
  }

  async function loadConfig() {
    if (state.analyticsURL) return state.analyticsURL;
    try {
      const data = await request('/api/config', { credentials: 'same-origin' }, 'network');
      if (data && data.analytics_url) state.analyticsURL = String(data.analytics_url).replace(/\/+$/, '');
    } catch { /* retried when statistics are next needed */ }
    return state.analyticsURL;
  }

  /** Analytics API on its own origin: GET only, with the session cookie. */
  async function analytics(path) {
    const base = await loadConfig();
    if (!base) throw new ApiError(0, 'analytics_unavailable', '');
    try {
      return await request(base + path, { credentials: 'include' }, 'analytics_network');
    } catch (err) {
      if (err.status === 401) sessionEnded(err);
      throw err;
    }
  }

  /** Disables a form's buttons while `work` runs; reports errors. */
  async function busy(form, work) {
    const buttons = $$('button', form);
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await work();
    } catch (err) {
      report(err);
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  // ---------------------------------------------------------------- small helpers

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === 'text') node.textContent = value;
      else if (key === 'className') node.className = value;
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }
  const SVG_NS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
    if (text != null) node.textContent = text;
    return node;
  }
  const splitList = (text) => text.split(',').map((s) => s.trim()).filter(Boolean);
  const pad = (n) => String(n).padStart(2, '0');
  const ymd = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const parseDay = (s) => {
    const [y, m, d] = String(s).split('-').map(Number);
    return new Date(y, m - 1, d);
  };
  const dayLabel = (s, opts = { day: 'numeric', month: 'short' }) => parseDay(s).toLocaleDateString(undefined, opts);
  const num = (v) => String(Number(v) || 0);
  const ms = (v) => (v == null ? '—' : `${Math.round(v)} ms`);
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
  function intValue(input, label) {
    const raw = input.value.trim();
    if (!/^-?\d+$/.test(raw)) {
      input.focus();
      throw new ApiError(400, 'form', `${label} must be a whole number.`);
    }
    return parseInt(raw, 10);
  }

  // ---------------------------------------------------------------- signed in / out

  function showSignedOut(message) {
    state.account = null;
    state.rules = [];
    state.editingRuleId = null;
    $('#loading').hidden = true;
    $('#app').hidden = true;
    $('#auth').hidden = false;
    $('#account-email').textContent = '';
    // Drop what the previous account could see.
    ['#rules-list', '#activity-list', '#stats-days', '#stats-rules', '#stats-ice-breakers', '#stats-skipped', '#stats-chart', '#ib-rows', '#try-result']
      .forEach((sel) => $(sel).replaceChildren());
    $$('#app form').forEach((form) => form.reset());
    if (message) notify(message, false);
  }

  function enterApp(account) {
    state.account = account;
    $('#account-email').textContent = account.email || '';
    $('#login-form').reset();
    $('#signup-form').reset();
    $('#loading').hidden = true;
    $('#auth').hidden = true;
    $('#app').hidden = false;
    route(false);
  }

  async function refreshAccount() {
    const data = await api('GET', '/api/auth/me');
    state.account = data.account;
    $('#account-email').textContent = data.account.email || '';
    return data.account;
  }

  $('#login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const email = $('#login-email').value.trim();
    const password = $('#login-password').value;
    if (!email || !password) { notify('Enter your email and password.', true); return; }
    busy(form, async () => {
      const data = await api('POST', '/api/auth/login', { email, password });
      clearMessage();
      enterApp(data.account);
    });
  });

  $('#signup-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const email = $('#signup-email').value.trim();
    const password = $('#signup-password').value;
    if (!email) { notify(ERROR_WORDS.invalid_email, true); $('#signup-email').focus(); return; }
    if (password.length < 10) { notify(ERROR_WORDS.password_too_short, true); $('#signup-password').focus(); return; }
    busy(form, async () => {
      await api('POST', '/api/auth/signup', { email, password });
      try {
        const data = await api('POST', '/api/auth/login', { email, password });
        notify('Welcome to Flowtalk! Your account is ready.');
        enterApp(data.account);
      } catch (err) {
        if (err.code === 'invalid_credentials') {
          throw new ApiError(401, 'form', 'Could not sign in with this email and password. If you already have an account, use "Sign in" with your existing password.');
        }
        throw err;
      }
    });
  });

  $('#logout-button').addEventListener('click', async () => {
    try {
      await api('POST', '/api/auth/logout', {});
      showSignedOut('You are signed out.');
    } catch (err) {
      report(err);
    }
  });

  // ---------------------------------------------------------------- routing

  const defaultPage = () => (state.account && state.account.instagram ? 'stats' : 'connection');

  const LOADERS = {
    connection: loadConnection,
    rules: loadRules,
    'ice-breakers': loadIceBreakers,
    ai: loadSettings,
    stats: loadStats,
    activity: () => loadActivity(true),
    account: () => { $('#password-form').reset(); $('#delete-form').reset(); },
  };

  function route(moveFocus) {
    if (!state.account) return;
    let page = location.hash.slice(1);
    if (!PAGES.includes(page)) {
      page = defaultPage();
      history.replaceState(null, '', `${location.pathname}${location.search}#${page}`);
    }
    for (const name of PAGES) $(`#page-${name}`).hidden = name !== page;
    for (const link of $$('.nav a')) {
      if (link.getAttribute('href') === `#${page}`) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    if (moveFocus) {
      const heading = $(`#page-${page} h1`);
      heading.setAttribute('tabindex', '-1');
      heading.focus();
    }
    Promise.resolve(LOADERS[page]()).catch(report);
  }

  window.addEventListener('hashchange', () => {
    if (!state.account) return;
    clearMessage();
    route(true);
  });

  // ---------------------------------------------------------------- connection

  function renderConnection() {
    const ig = state.account && state.account.instagram;
    const status = $('#connection-status');
    const connect = $('#connect-button');
    if (!ig) {
      status.textContent = 'Not connected. Connect your Instagram account so Flowtalk can answer its messages.';
      connect.textContent = 'Connect Instagram';
    } else if (ig.status === 'needs_reconnect') {
      status.textContent = `@${ig.username} needs reconnecting: Instagram access has expired, so Flowtalk cannot reply. Connect again.`;
      connect.textContent = 'Reconnect Instagram';
    } else {
      status.textContent = `Connected as @${ig.username}. Flowtalk is answering its messages.`;
    }
    connect.hidden = Boolean(ig && ig.status !== 'needs_reconnect');
    $('#disconnect-button').hidden = !ig;
  }

  async function loadConnection() {
    renderConnection();
    await refreshAccount();
    renderConnection();
  }

  $('#disconnect-button').addEventListener('click', async (event) => {
    const ig = state.account && state.account.instagram;
    const name = ig ? `@${ig.username}` : 'Instagram';
    if (!window.confirm(`Disconnect ${name}? Flowtalk will stop answering its messages.`)) return;
    const button = event.currentTarget;
    button.disabled = true;
    try {
      await api('POST', '/api/instagram/disconnect', {});
      await refreshAccount();
      renderConnection();
      notify('Instagram is disconnected. Flowtalk no longer answers its messages.');
    } catch (err) {
      report(err);
    } finally {
      button.disabled = false;
    }
  });

  /** Reads ?instagram=… left by the OAuth callback, then removes it from the address bar. */
  function takeInstagramNotice() {
    const params = new URLSearchParams(location.search);
    const result = params.get('instagram');
    if (!result) return null;
    const reason = params.get('reason');
    params.delete('instagram');
    params.delete('reason');
    const query = params.toString();
    history.replaceState(null, '', `${location.pathname}${query ? `?${query}` : ''}#connection`);
    if (result === 'connected') return { text: 'Instagram is connected. Flowtalk will now answer its messages.', error: false };
    return { text: INSTAGRAM_ERRORS[reason] || 'Instagram could not be connected. Please try again.', error: true };
  }

  // ---------------------------------------------------------------- rules

  async function loadRules() {
    const data = await api('GET', '/api/rules');
    state.rules = data.rules || [];
    renderRules();
  }

  function renderRules() {
    const list = $('#rules-list');
    list.replaceChildren();
    if (!state.rules.length) {
      list.append(el('li', { className: 'muted', text: 'No rules yet. Add your first one above.' }));
      return;
    }
    for (const rule of state.rules) {
      const keywords = el('ul', { className: 'rule-keywords', 'aria-label': 'Keywords' });
      for (const k of rule.keywords || []) keywords.append(el('li', { className: 'chip', text: k }));
      const meta = [MATCH_WORDS[rule.match_type] || rule.match_type, `Priority ${rule.priority ?? 0}`, rule.enabled ? 'On' : 'Off'];
      if (rule.negative_keywords && rule.negative_keywords.length) meta.push(`Not when: ${rule.negative_keywords.join(', ')}`);
      const label = (rule.keywords || []).join(', ');
      const edit = el('button', { type: 'button', className: 'secondary small', text: 'Edit', 'aria-label': `Edit rule ${label}` });
      const remove = el('button', { type: 'button', className: 'danger small', text: 'Delete', 'aria-label': `Delete rule ${label}` });
      edit.addEventListener('click', () => editRule(rule));
      remove.addEventListener('click', () => deleteRule(rule, remove));
      list.append(el('li', { className: rule.enabled ? 'rule' : 'rule off', dataset: { ruleId: rule.id } },
        keywords,
        el('p', { className: 'rule-reply', text: rule.reply }),
        el('p', { className: 'rule-meta', text: meta.join(' · ') }),
        el('div', { className: 'actions' }, edit, remove)));
    }
  }

  function resetRuleForm() {
    state.editingRuleId = null;
    $('#rule-form').reset();
    $('#rule-priority').value = '0';
    $('#rule-enabled').checked = true;
    $('#rule-form-title').textContent = 'Add a rule';
    $('#rule-cancel').hidden = true;
  }

  function editRule(rule) {
    state.editingRuleId = rule.id;
    $('#rule-keywords').value = (rule.keywords || []).join(', ');
    $('#rule-match-type').value = rule.match_type || 'contains';
    $('#rule-negative').value = (rule.negative_keywords || []).join(', ');
    $('#rule-reply').value = rule.reply || '';
    $('#rule-priority').value = String(rule.priority ?? 0);
    $('#rule-enabled').checked = Boolean(rule.enabled);
    $('#rule-form-title').textContent = 'Edit rule';
    $('#rule-cancel').hidden = false;
    $('#rule-form').scrollIntoView({ block: 'start' });
    $('#rule-keywords').focus();
  }

  async function deleteRule(rule, button) {
    if (!window.confirm(`Delete the rule "${(rule.keywords || []).join(', ')}"?`)) return;
    button.disabled = true;
    try {
      await api('DELETE', `/api/rules/${encodeURIComponent(rule.id)}`, {});
      if (state.editingRuleId === rule.id) resetRuleForm();
      notify('Rule deleted.');
    } catch (err) {
      if (err.code !== 'not_found') report(err);
    } finally {
      button.disabled = false;
    }
    await loadRules().catch(report);
  }

  $('#rule-cancel').addEventListener('click', resetRuleForm);

  $('#rule-form').addEventListener('submit', (event) => {
    event.preventDefault();
    busy(event.currentTarget, async () => {
      const keywords = splitList($('#rule-keywords').value);
      const reply = $('#rule-reply').value;
      if (!keywords.length) { $('#rule-keywords').focus(); throw new ApiError(400, 'form', 'Add at least one keyword.'); }
      if (!reply.trim()) { $('#rule-reply').focus(); throw new ApiError(400, 'form', 'Write the reply Flowtalk should send.'); }
      const body = {
        keywords,
        match_type: $('#rule-match-type').value,
        negative_keywords: splitList($('#rule-negative').value),
        reply,
        priority: intValue($('#rule-priority'), 'Priority'),
        enabled: $('#rule-enabled').checked,
      };
      const id = state.editingRuleId;
      try {
        if (id) await api('PUT', `/api/rules/${encodeURIComponent(id)}`, body);
        else await api('POST', '/api/rules', body);
      } catch (err) {
        if (err.code === 'not_found') { resetRuleForm(); await loadRules(); }
        throw err;
      }
      resetRuleForm();
      notify(id ? 'Rule saved.' : 'Rule added.');
      await loadRules();
    });
  });

  $('#try-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const result = $('#try-result');
    const text = $('#try-text').value;
    if (!text.trim()) { notify('Type a message to try.', true); $('#try-text').focus(); return; }
    busy(event.currentTarget, async () => {
      result.replaceChildren();
      const data = await api('POST', '/api/rules/test', { text });
      const match = data && data.match;
      if (!match) {
        result.append(el('p', { text: 'No rule answers this — the AI (if on) or nobody will.' }));
        return;
      }
      result.append(
        el('p', {}, 'Answered by the rule with keyword ', el('strong', { text: `“${match.keyword}”` }), ':'),
        el('blockquote', { className: 'rule-reply', text: match.reply }));
      if (match.explanation) result.append(el('p', { className: 'muted', text: `Why: ${match.explanation}` }));
    });
  });

  // ---------------------------------------------------------------- Ice Breakers

  function addIceBreakerRow(item = { question: '', answer: '' }) {
    const rows = $('#ib-rows');
    if (rows.children.length >= MAX_ICE_BREAKERS) return null;
    const n = ++state.ibCounter;
    const question = el('input', { id: `ib-q-${n}`, type: 'text', className: 'ib-question', maxlength: '80', autocomplete: 'off' });
    const answer = el('input', { id: `ib-a-${n}`, type: 'text', className: 'ib-answer', autocomplete: 'off' });
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
    $('#ib-add').textContent = full ? 'Instagram allows at most 4 questions' : 'Add a question';
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

  $('#ib-add').addEventListener('click', () => {
    const row = addIceBreakerRow();
    if (row) $('.ib-question', row).focus();
  });

  $('#ice-breakers-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    busy(form, async () => {
      const items = [];
      for (const row of $$('#ib-rows .ib-row')) {
        const question = $('.ib-question', row).value.trim();
        const answer = $('.ib-answer', row).value.trim();
        if (!question && !answer) continue;
        if (!question) { $('.ib-question', row).focus(); throw new ApiError(400, 'form', 'Each answer needs a question.'); }
        if (!answer) { $('.ib-answer', row).focus(); throw new ApiError(400, 'form', 'Each question needs an answer.'); }
        items.push({ question, answer });
      }
      const data = await api('PUT', '/api/ice-breakers', { items });
      renderIceBreakers((data && data.items) || items);
      notify(items.length
        ? 'Ice Breakers saved. Instagram shows the change within a few minutes.'
        : 'Ice Breakers removed.');
    }).then(updateIceBreakerRows); // busy() re-enabled every button, including a full form's "Add"
  });

  // ---------------------------------------------------------------- AI settings

  function fillSettings(s) {
    $('#ai-enabled').checked = Boolean(s.ai_enabled);
    $('#ai-description').value = s.business_description || '';
    $('#ai-tone').value = s.ai_tone || '';
    $('#ai-fallback').value = s.fallback_text || '';
    $('#ai-memory').checked = Boolean(s.ai_memory);
    $('#ai-budget').value = String(s.ai_daily_budget ?? '');
    $('#cooldown-seconds').value = String(s.cooldown_seconds ?? '');
    $('#human-pause-minutes').value = String(s.human_pause_minutes ?? '');
  }

  async function loadSettings() {
    const data = await api('GET', '/api/settings');
    fillSettings((data && data.settings) || {});
  }

  $('#ai-form').addEventListener('submit', (event) => {
    event.preventDefault();
    busy(event.currentTarget, async () => {
      const body = {
        ai_enabled: $('#ai-enabled').checked,
        business_description: $('#ai-description').value,
        ai_tone: $('#ai-tone').value,
        fallback_text: $('#ai-fallback').value,
        ai_memory: $('#ai-memory').checked,
        ai_daily_budget: intValue($('#ai-budget'), 'The daily AI answer limit'),
        cooldown_seconds: intValue($('#cooldown-seconds'), 'The pause between replies'),
        human_pause_minutes: intValue($('#human-pause-minutes'), 'The pause after you answer'),
      };
      const data = await api('PUT', '/api/settings', body);
      if (data && data.settings) fillSettings(data.settings);
      notify(body.ai_enabled && !body.business_description.trim()
        ? 'Settings saved. Tip: describe your business so the AI has facts to answer from.'
        : 'Settings saved.');
    });
  });

  // ---------------------------------------------------------------- statistics

  for (const button of $$('button[data-days]')) {
    button.addEventListener('click', () => {
      state.statsDays = Number(button.dataset.days) || 7;
      loadStats().catch(report);
    });
  }

  async function loadStats() {
    const id = ++state.statsRequest;
    const days = state.statsDays;
    for (const b of $$('button[data-days]')) b.setAttribute('aria-pressed', String(Number(b.dataset.days) === days));
    const today = new Date();
    const from = new Date(today.getFullYear(), today.getMonth(), today.getDate() - (days - 1));
    const query = new URLSearchParams({ from: ymd(from), to: ymd(today), tz: TIME_ZONE });
    $('#stats-period').textContent = 'Loading…';
    try {
      let data;
      try {
        data = await analytics(`/api/stats?${query}`);
      } catch (err) {
        // A time zone the server does not know (older tz data): show the statistics in UTC rather than none.
        if (err.code !== 'invalid_timezone') throw err;
        query.set('tz', 'UTC');
        data = await analytics(`/api/stats?${query}`);
      }
      if (id === state.statsRequest) renderStats({ ...data, from: data.from || ymd(from), to: data.to || ymd(today) });
    } catch (err) {
      if (id !== state.statsRequest) return;
      $('#stats-period').textContent = 'The statistics could not be loaded.';
      throw err;
    }
  }

  function renderStats(data) {
    const t = data.totals || {};
    const full = { day: 'numeric', month: 'long', year: 'numeric' };
    $('#stats-period').textContent = `${dayLabel(data.from, full)} to ${dayLabel(data.to, full)} (${data.tz || TIME_ZONE} time)`;
    $('#stat-received').textContent = num(t.received);
    $('#stat-replied').textContent = num(t.replied);
    $('#stat-reply-rate').textContent = t.reply_rate == null ? '—' : `${Math.round(t.reply_rate * 100)}%`;
    const latency = data.latency_ms || {};
    $('#stat-latency-p50').textContent = ms(latency.p50);
    $('#stat-latency-p95').textContent = ms(latency.p95);
    $('#stats-breakdown').textContent = [
      `By a rule: ${num(t.replied_rule)}`, `By the AI: ${num(t.replied_ai)}`,
      `Ice Breakers: ${num(t.replied_ice_breaker)}`, `Fallback message: ${num(t.replied_fallback)}`,
      `Not answered: ${num(t.skipped)}`, `Could not send: ${num(t.failed)}`, `Unclear: ${num(t.unknown)}`,
    ].join(' · ');

    const days = fillDays(data.from, data.to, data.days || []);
    drawChart(days, t);
    $('#stats-days').replaceChildren(...days.map((d) => el('tr', {},
      el('th', { scope: 'row', text: dayLabel(d.date, { weekday: 'short', day: 'numeric', month: 'short' }) }),
      el('td', { text: num(d.received) }), el('td', { text: num(d.replied) }),
      el('td', { text: num(d.skipped) }), el('td', { text: num(d.failed) }))));

    const rules = [...(data.rules || [])].sort((a, b) => b.hits - a.hits);
    fillCounts('#stats-rules', rules.map((r) => [r.keywords ? r.keywords.join(', ') : 'Deleted rule', plural(Number(r.hits) || 0, 'reply', 'replies')]),
      'No rule answered in this period.');
    const ibs = [...(data.ice_breakers || [])].sort((a, b) => a.position - b.position);
    fillCounts('#stats-ice-breakers', ibs.map((i) => [i.question == null ? 'Removed question' : i.question, plural(Number(i.taps) || 0, 'tap', 'taps')]),
      'No Ice Breaker was tapped in this period.');
    const skipped = Object.entries(data.skipped_by_reason || {}).sort((a, b) => b[1] - a[1]);
    fillCounts('#stats-skipped', skipped.map(([reason, n]) => [reasonText(reason), plural(Number(n) || 0, 'message', 'messages')]),
      'Every message was handled in this period.');
  }

  /** One entry per calendar day between from and to, zeros where the server sent none. */
  function fillDays(from, to, days) {
    const byDate = new Map(days.map((d) => [d.date, d]));
    const out = [];
    const end = parseDay(to);
    for (let d = parseDay(from); d <= end && out.length < 400; d.setDate(d.getDate() + 1)) {
      const key = ymd(d);
      out.push(byDate.get(key) || { date: key, received: 0, replied: 0, skipped: 0, failed: 0 });
    }
    return out.length ? out : days;
  }

  function fillCounts(selector, rows, emptyText) {
    const list = $(selector);
    list.replaceChildren();
    if (!rows.length) { list.append(el('li', { className: 'muted', text: emptyText })); return; }
    for (const [name, count] of rows) list.append(el('li', {}, el('span', { text: name }), el('span', { className: 'count', text: count })));
  }

  function drawChart(days, totals) {
    const chart = $('#stats-chart');
    chart.replaceChildren();
    const W = 600, H = 220, top = 12, bottom = 26, left = 36, right = 8;
    const plotW = W - left - right, plotH = H - top - bottom, base = top + plotH;
    const max = Math.max(1, ...days.map((d) => Math.max(Number(d.received) || 0, Number(d.replied) || 0)));
    const slot = plotW / Math.max(1, days.length);
    const barW = Math.max(1, slot * 0.7);

    const title = days.length
      ? `Messages per day, ${dayLabel(days[0].date)} to ${dayLabel(days[days.length - 1].date)}: ${num(totals.received)} received, ${num(totals.replied)} replied. The table below has the numbers.`
      : 'No messages in this period.';
    chart.setAttribute('viewBox', `0 0 ${W} ${H}`);
    chart.setAttribute('role', 'img');
    chart.setAttribute('aria-label', title);
    chart.append(svg('title', { id: 'stats-chart-title' }, title));
    chart.append(svg('line', { class: 'axis', x1: left, y1: base, x2: W - right, y2: base }));
    chart.append(svg('text', { x: left - 6, y: top + 10, 'text-anchor': 'end' }, String(max)));
    chart.append(svg('text', { x: left - 6, y: base, 'text-anchor': 'end' }, '0'));

    days.forEach((d, i) => {
      const replied = Number(d.replied) || 0;
      const other = Math.max(0, (Number(d.received) || 0) - replied);
      const x = left + i * slot + (slot - barW) / 2;
      const hReplied = (replied / max) * plotH;
      const hOther = (other / max) * plotH;
      const group = svg('g');
      group.append(svg('title', {}, `${dayLabel(d.date)}: ${num(d.received)} received, ${replied} replied`));
      if (hReplied > 0) group.append(svg('rect', { class: 'bar-replied', x: x.toFixed(2), y: (base - hReplied).toFixed(2), width: barW.toFixed(2), height: hReplied.toFixed(2) }));
      if (hOther > 0) group.append(svg('rect', { class: 'bar-other', x: x.toFixed(2), y: (base - hReplied - hOther).toFixed(2), width: barW.toFixed(2), height: hOther.toFixed(2) }));
      chart.append(group);
    });

    const labels = days.length > 2 ? [0, Math.floor((days.length - 1) / 2), days.length - 1] : days.map((_, i) => i);
    for (const i of new Set(labels)) {
      const anchor = i === 0 ? 'start' : i === days.length - 1 ? 'end' : 'middle';
      const x = anchor === 'start' ? left : anchor === 'end' ? W - right : left + (i + 0.5) * slot;
      chart.append(svg('text', { x: x.toFixed(2), y: H - 6, 'text-anchor': anchor }, dayLabel(days[i].date)));
    }
  }

  // ---------------------------------------------------------------- activity

  const EVENT_WORDS = {
    postback: 'Tapped an Ice Breaker',
    echo: 'Your own message',
    human_reply: 'You answered yourself',
  };

  function whatHappened(item) {
    const reason = reasonText(item.reason);
    let text;
    if (item.outcome === 'replied') {
      text = SOURCE_WORDS[item.source] || 'Replied';
      if (item.source === 'fallback' && reason) text += ` (${reason})`;
      if (item.latency_ms != null) text += ` in ${Math.round(item.latency_ms)} ms`;
      return text;
    }
    if (item.outcome === 'unknown' && (!item.reason || reason === OUTCOME_WORDS.unknown)) return OUTCOME_WORDS.unknown;
    text = OUTCOME_WORDS[item.outcome] || reasonText(item.outcome) || 'Unknown';
    return reason ? `${text}: ${reason}` : text;
  }

  function activityRow(item) {
    const when = new Date(item.occurred_at);
    const time = el('time', { datetime: item.occurred_at,
      text: Number.isNaN(when.getTime()) ? String(item.occurred_at) : when.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' }) });
    const said = item.summary != null && item.summary !== '' ? item.summary : (EVENT_WORDS[item.event_kind] || '—');
    return el('tr', { className: 'activity-row', dataset: { outcome: item.outcome || '' } },
      el('td', { 'data-label': 'Time' }, time),
      el('td', { 'data-label': 'Customer wrote', text: said }),
      el('td', { 'data-label': 'What happened', text: whatHappened(item) }),
      el('td', { 'data-label': 'Reply', text: item.reply_summary || '—' }));
  }

  async function loadActivity(reset) {
    const id = reset ? ++state.activityRequest : state.activityRequest;
    const list = $('#activity-list');
    const more = $('#activity-more');
    const query = new URLSearchParams({ limit: '50' });
    const outcome = $('#activity-filter').value;
    if (outcome) query.set('outcome', outcome);
    if (reset) {
      state.activityBefore = null;
      list.replaceChildren();
      more.hidden = true;
      $('#activity-empty').hidden = true;
    } else if (state.activityBefore) {
      query.set('before', state.activityBefore);
    }
    more.disabled = true;
    try {
      const data = await analytics(`/api/activity?${query}`);
      if (id !== state.activityRequest) return;
      list.append(...(data.items || []).map(activityRow));
      state.activityBefore = data.next_before || null;
      more.hidden = !state.activityBefore;
      $('#activity-empty').hidden = list.children.length > 0;
    } finally {
      more.disabled = false;
    }
  }

  $('#activity-filter').addEventListener('change', () => loadActivity(true).catch(report));
  $('#activity-more').addEventListener('click', () => loadActivity(false).catch(report));

  // ---------------------------------------------------------------- account

  $('#password-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const current = $('#current-password').value;
    const next = $('#new-password').value;
    if (!current) { notify('Enter your current password.', true); $('#current-password').focus(); return; }
    if (next.length < 10) { notify(ERROR_WORDS.password_too_short, true); $('#new-password').focus(); return; }
    busy(form, async () => {
      try {
        await api('POST', '/api/auth/password', { current_password: current, new_password: next });
      } catch (err) {
        if (err.code === 'invalid_credentials') throw new ApiError(401, 'form', 'The current password is incorrect.');
        throw err;
      }
      form.reset();
      notify('Password changed. Your other devices have been signed out.');
    });
  });

  $('#delete-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const password = $('#delete-password').value;
    if (!password) { notify('Type your password to confirm.', true); $('#delete-password').focus(); return; }
    if (!window.confirm('Delete your Flowtalk account and all its data for good? This cannot be undone.')) return;
    busy(form, async () => {
      try {
        await api('DELETE', '/api/account', { password });
      } catch (err) {
        if (err.code === 'invalid_credentials') throw new ApiError(401, 'form', 'The password is incorrect. Your account was not deleted.');
        throw err;
      }
      showSignedOut('Your account and all its data have been deleted.');
    });
  });

  // ---------------------------------------------------------------- start

  async function start() {
    const notice = takeInstagramNotice();
    loadConfig();
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
})();
