// The rule validator and compiler (RuleValidator, RuleMatcher) on rule sets and messages read from the input:
//
//     <match type>\t<priority>\t<keyword>;<keyword>\t<negative>;<negative>\t<reply>     one rule per line (tabs), then
//     ---
//     <message>                                                                    one message per line
//
// A match type other than contains/exact/starts_with/any_word/regex is picked from its length; a priority that is not
// a number from its length too. Every rule is validated (patternProblem for each keyword as well); the rules the
// validator accepts — the only ones the API stores — are compiled into one matcher, and every message is matched.
// Properties, beyond "no trap": the automaton's answer equals a naive reference matcher's (every rule tried in order,
// keywords as token sequences, each regex compiled on its own), and the match explains itself (the rule's own reply and
// one of its keywords); with regex rules, the message repeated to 1,000 characters is matched too, and must finish
// within libFuzzer's -timeout (RE2 is linear in the text).
import Foundation
import FuzzCheck
import ReplyRules

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = text(data, size)
    let sections = input.split(separator: "\n---\n", maxSplits: 1, omittingEmptySubsequences: false)
    let rules = sections[0].split(separator: "\n").prefix(40).enumerated().map { rule(String($1), index: $0) }
    let messages = sections.count > 1 ? sections[1].split(separator: "\n", omittingEmptySubsequences: false).prefix(20).map(String.init) : []

    var valid: [ReplyRule] = []
    for rule in rules {
        let problems = RuleValidator.problems(rule)
        for keyword in rule.keywords { _ = RuleValidator.patternProblem(keyword) }
        if problems.isEmpty {
            check(!rule.reply.allSatisfy(\.isWhitespace), "accepted an empty reply")
            check(rule.keywords.contains { !$0.allSatisfy(\.isWhitespace) }, "accepted a rule without keywords")
            valid.append(rule)
        }
    }
    _ = RuleMatcher(rules: rules)  // the compiler on everything, valid or not: must not trap either
    let matcher = RuleMatcher(rules: valid)
    check(matcher.count == valid.filter(\.enabled).count, "matcher holds \(matcher.count) rules")
    for message in messages {
        let match = matcher.match(message)
        let expected = referenceMatch(valid, message)
        check(match == expected, "matcher said \(show(match)), reference \(show(expected)) for \(show(message))")
        if let match, let rule = valid.first(where: { $0.id == match.ruleID }) {
            check(match.reply == rule.reply && rule.keywords.contains(match.keyword), "match does not explain itself")
            check(!match.explanation.isEmpty, "empty explanation")
        }
        // Backtracking blew up on long repetitive text (issue 12): the message repeated to a DM's 1,000 characters
        // must still match within libFuzzer's -timeout.
        if !message.isEmpty, valid.contains(where: { $0.matchType == .regex }) {
            _ = matcher.match(String(repeating: message, count: 1_000 / message.count + 1))
        }
    }
    return 0
}

func rule(_ line: String, index: Int) -> ReplyRule {
    let fields = line.split(separator: "\t", maxSplits: 4, omittingEmptySubsequences: false).map(String.init)
    func field(_ i: Int) -> String { i < fields.count ? fields[i] : "" }
    let type = MatchType(rawValue: field(0)) ?? MatchType.allCases[field(0).utf8.count % MatchType.allCases.count]
    let priority = Int(field(1)) ?? field(1).utf8.count % 3
    // Trimmed and without empty ones, as the rules API stores them.
    func list(_ text: String) -> [String] {
        text.split(separator: ";").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }
    return ReplyRule(
        id: "r\(index)", keywords: list(field(2)), matchType: type, negativeKeywords: list(field(3)), priority: priority,
        enabled: index % 7 != 6, reply: fields.count > 4 ? field(4).trimmingCharacters(in: .whitespacesAndNewlines) : "Reply \(index)",
        createdAt: Date(timeIntervalSince1970: Double(index % 4)))
}

/// The rule that should answer: rules by priority, then age, then id; the first whose keyword matches (keywords in
/// order) and none of whose negative keywords occurs.
func referenceMatch(_ rules: [ReplyRule], _ message: String) -> RuleMatch? {
    let tokens = TextNormalizer.tokens(message)
    let normalized = String(tokens.joined(separator: " ").prefix(RuleMatcher.maximumRegexCharacters))
    func occurs(_ keyword: [String]) -> Bool {
        guard !keyword.isEmpty, keyword.count <= tokens.count else { return false }
        return (0...(tokens.count - keyword.count)).contains { Array(tokens[$0..<($0 + keyword.count)]) == keyword }
    }
    let ordered = rules.filter(\.enabled).sorted {
        ($0.priority, $1.createdAt, $1.id) > ($1.priority, $0.createdAt, $0.id)
    }
    for rule in ordered where !rule.negativeKeywords.contains(where: { occurs(TextNormalizer.tokens($0)) }) {
        for keyword in rule.keywords {
            let words = TextNormalizer.tokens(keyword)
            let hit: Bool
            switch rule.matchType {
            case .contains: hit = occurs(words)
            case .exact: hit = !words.isEmpty && words == tokens
            case .startsWith: hit = !words.isEmpty && tokens.starts(with: words)
            case .anyWord: hit = words.contains { tokens.contains($0) }
            case .regex:
                guard case .success(let regex) = RuleValidator.compile(keyword) else { continue }
                hit = regex.matches(normalized)
            }
            if hit { return RuleMatch(ruleID: rule.id, reply: rule.reply, matchType: rule.matchType, keyword: keyword) }
        }
    }
    return nil
}
