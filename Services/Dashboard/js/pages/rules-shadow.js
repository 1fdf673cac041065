// Which keywords can never answer because a rule tried before them already answers every message they would match.
// No DOM here: the browser test imports this module and checks it against cases. It follows Shared/ReplyRules:
// TextNormalizer (tokens) and RuleMatcher (enabled rules only, tried by priority, then oldest — the order GET
// /api/rules lists them in; a rule whose negative keywords appear does not answer and the next one is tried).

const MARK = /\p{M}/u;
const DIGIT = /\p{Nd}/u;
const LETTER = /[\p{L}\p{Nl}\p{No}]/u;
const EMOJI = /\p{Emoji}/u;
const EMOJI_MODIFIER = /\p{Emoji_Modifier}/u;
// Scripts written without spaces: one token per character (TextNormalizer.isUnspacedScript).
const UNSPACED = /[\p{Ideographic}\u3040-\u30FF\u31F0-\u31FF\uFF66-\uFF9F\u0E00-\u0EFF\u1780-\u17FF\u1000-\u109F]/u;

/** The digit a decimal number of any script stands for (digits come in runs of ten, 0 to 9). */
function digitValue(cp) {
  let start = cp;
  while (start > 0 && DIGIT.test(String.fromCodePoint(start - 1))) start -= 1;
  return String((cp - start) % 10);
}

function fold(ch) {
  if (ch === 'ß' || ch === 'ẞ') return 'ss';
  if (ch === 'ς') return 'σ';
  return Array.from(ch.toLowerCase()).filter((c) => !MARK.test(c)).join('');
}

/** The tokens rules match on: as TextNormalizer.tokens (case folded, accents and punctuation gone, digits as ASCII). */
export function tokens(text) {
  const out = [];
  let word = '';
  const flush = () => { if (word) { out.push(word); word = ''; } };
  for (const ch of String(text).normalize('NFKD')) {
    const cp = ch.codePointAt(0);
    if (MARK.test(ch)) continue;
    if (DIGIT.test(ch)) word += digitValue(cp);
    else if (LETTER.test(ch)) {
      if (UNSPACED.test(ch)) { flush(); word = ch; flush(); } else word += fold(ch);
    } else if (cp > 0x7f && EMOJI.test(ch) && !EMOJI_MODIFIER.test(ch)) {
      flush(); word = ch; flush();
    } else flush();
  }
  flush();
  return out;
}

/** Whether `part` appears in `whole` as a run of whole tokens. */
function hasRun(whole, part) {
  for (let i = 0; i + part.length <= whole.length; i += 1) {
    if (part.every((t, j) => whole[i + j] === t)) return true;
  }
  return false;
}
const isPrefix = (whole, part) => part.length <= whole.length && part.every((t, j) => whole[j] === t);

/** What one keyword matches, as the matcher compiles it: each word of an any-word keyword on its own; null for a
 * pattern (not reasoned about: a pattern is never called unreachable, and never makes another keyword so). */
function units(rule, keyword) {
  const type = rule.match_type || 'contains';
  if (type === 'regex') return null;
  const t = tokens(keyword);
  if (type === 'any_word') return t.map((w) => ({ kind: 'contains', tokens: [w] }));
  return t.length ? [{ kind: type, tokens: t }] : [];
}

/** Whether every message `later` matches is matched by `earlier` too. */
function covers(earlier, later) {
  switch (earlier.kind) {
    case 'contains': return hasRun(later.tokens, earlier.tokens);
    case 'starts_with': return later.kind !== 'contains' && isPrefix(later.tokens, earlier.tokens);
    case 'exact': return later.kind === 'exact' && later.tokens.join(' ') === earlier.tokens.join(' ');
    default: return false;
  }
}

/** Whether a message that escapes `earlier` through one of its negative keywords is one `later` refuses too. */
function negativesCovered(earlier, later) {
  const theirs = (later.negative_keywords || []).map(tokens).filter((t) => t.length);
  return (earlier.negative_keywords || []).map(tokens).filter((t) => t.length)
    .every((n) => theirs.some((m) => hasRun(n, m)));
}

/**
 * For each enabled rule with a keyword that can never answer: `{ keywords: [{ keyword, by: [rule…] }], never }`,
 * `never` when no keyword of it can. `rules` in the order the matcher tries them (as GET /api/rules lists them).
 */
export function findShadows(rules) {
  const result = new Map();
  const before = [];
  for (const rule of rules) {
    if (!rule.enabled) continue;
    // An earlier rule blocks this one only for events it answers too: its trigger is "any" or the same.
    const trigger = rule.trigger || 'message';
    const answersSame = (e) => (e.rule.trigger || 'message') === 'any' || (e.rule.trigger || 'message') === trigger;
    const compiled = before.filter((e) => answersSame(e) && negativesCovered(e.rule, rule));
    const dead = [];
    let analysed = 0;
    for (const keyword of rule.keywords || []) {
      const mine = units(rule, keyword);
      if (mine === null || !mine.length) continue;
      analysed += 1;
      const by = [];
      const reached = mine.every((unit) => {
        const hit = compiled.find((e) => e.units.some((u) => covers(u, unit)));
        if (hit && !by.includes(hit.rule)) by.push(hit.rule);
        return Boolean(hit);
      });
      if (reached) dead.push({ keyword, by });
    }
    if (dead.length) result.set(rule.id, { keywords: dead, never: dead.length === analysed });
    const all = (rule.keywords || []).flatMap((k) => units(rule, k) || []);
    before.push({ rule, units: all });
  }
  return result;
}

const name = (rule) => `“${(rule.keywords || []).join(', ')}”`;

function sentence(dead, rule) {
  const who = dead.by.map((r) => `the rule ${name(r)} (${r.priority > rule.priority ? 'higher priority' : 'same priority, added earlier'})`);
  return `“${dead.keyword}” never reaches this rule: ${who.join(' and ')} ${who.length === 1 ? 'answers' : 'answer'} every message with it first.`;
}

/** The warning for one rule in words, or '' when every keyword can answer. */
export function shadowWarning(rule, shadows) {
  const found = shadows.get(rule.id);
  if (!found) return '';
  const sentences = found.keywords.map((d) => sentence(d, rule)).join(' ');
  if (found.never) return `This rule can never answer. ${sentences} Give it a higher priority than those rules, or change its keywords.`;
  return `${sentences} Give this rule a higher priority, or remove ${found.keywords.length === 1 ? 'that keyword' : 'those keywords'}.`;
}
