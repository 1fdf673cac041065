// The words the dashboard shows for the codes the services record: why a message was not answered (reasons), what
// happened to it (outcomes), how a reply was made (sources), how a rule matches and what an event was.
// Shape kept on purpose: each table is one plain object literal, one entry per line, `  code: 'text',` with no
// apostrophe inside a text (write ’), so that a test can read them with a regular expression.

export const REASONS = {
  no_rule: 'No rule matched',
  cooldown: 'Sent this customer the same answer a moment ago',
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
  rule_removed: 'The rule was removed before the reply could go out',
  fallback_removed: 'The fallback text was removed before it could go out',
  ai_disabled: 'AI was turned off before it answered',
  ai_cannot_help: 'The AI could not answer from your facts',
  ai_timeout: 'The AI took too long',
  ai_rate_limited: 'The AI service was busy',
  ai_server_error: 'The AI service had a problem',
  ai_unreachable: 'The AI service could not be reached',
  ai_auth_failed: 'The server’s AI key was refused',
  ai_rejected: 'The AI service refused the request',
  ai_malformed_answer: 'The AI gave an unusable answer',
  ai_budget_exhausted: 'Today’s AI budget is used up',
  ai_conversation_limit: 'The AI already answered this customer enough today',
  ai_circuit_open: 'The AI service is having problems',
  ai_not_configured: 'AI is on, but the server has no AI key',
  message_deleted: 'Unsent by the customer (its text is no longer kept)',
  incomplete_event: 'Instagram sent an incomplete message',
  edit_without_text: 'An edited message without text',
  owner_paused: 'You paused the bot for this customer',
  owner_resumed: 'You turned the bot back on for this customer',
  hand_off: 'Handed to you: the bot waits for your answer',
  ai_hand_off: 'The AI could not help, so the conversation was handed to you',
  out_of_hours: 'Outside your business hours (your away message was already sent)',
  no_text: 'A message without text (photo, sticker…)',
  attachment_only: 'A photo, video or sticker without text',
  is_echo: 'Your own message',
  is_deleted: 'The customer deleted the message',
  is_unsupported: 'A kind of message Flowtalk does not handle',
};

export const OUTCOMES = {
  replied: 'Replied',
  skipped: 'Not answered',
  failed: 'Could not send the reply',
  unknown: 'Unclear whether the reply arrived',
  paused: 'Bot paused',
  ignored: 'Ignored',
};

export const SOURCES = {
  rule: 'Replied with a rule',
  ai: 'Replied by the AI',
  ice_breaker: 'Answered an Ice Breaker',
  fallback: 'Sent your fallback message',
  welcome: 'Sent your welcome message',
  away: 'Sent your away message',
};

export const MATCH_TYPES = {
  contains: 'Contains one of these words or phrases (whole words: “cost” does not match “costs”)',
  exact: 'Is exactly one of these, nothing more (“hi” matches “Hi!” but not “hi there”)',
  starts_with: 'Starts with one of these words or phrases (“hi” matches “Hi there” but not “oh hi”)',
  any_word: 'Contains any single word of these (“opening hours” also answers “hours?”)',
  regex: 'Matches a pattern (advanced: regular expressions)',
};

export const EVENTS = {
  postback: 'Tapped an Ice Breaker or a button',
  echo: 'Your own message',
  human_reply: 'You answered yourself',
  dashboard: 'From the dashboard',
  story_reply: 'Replied to your story',
  story_mention: 'Mentioned you in a story',
};

/** What a rule answers (its trigger), on the rule's card. */
export const TRIGGERS = {
  message: 'Answers direct messages',
  story_reply: 'Answers replies to your stories',
  story_mention: 'Answers story mentions',
  any: 'Answers direct messages, story replies and mentions',
};

const PARTLY_SENT = 'partly_sent_';

/** Words for a reason code: a known code, `graph_error_<n>`, `partly_sent_<reason>`, else the code spelled out. */
export function reasonText(code) {
  if (!code) return '';
  if (Object.hasOwn(REASONS, code)) return REASONS[code];
  if (/^graph_error_\d+$/.test(code)) return `Instagram refused the reply (error ${code.slice('graph_error_'.length)})`;
  if (code.startsWith(PARTLY_SENT) && code.length > PARTLY_SENT.length) {
    return `Only part of the reply was sent: ${reasonText(code.slice(PARTLY_SENT.length))}`;
  }
  return code.replace(/_/g, ' ');
}

/** Whether a reason already says what happened to the reply (so no outcome word goes before it). */
export const isPartlySent = (code) => Boolean(code) && code.startsWith(PARTLY_SENT);
