/// Limits on what a business may save as a rule, so every rule can be matched quickly and safely.
package enum RuleValidator {
    package static let maximumKeywords = 50
    package static let maximumKeywordLength = 100
    /// Characters (what a person counts); a reply longer than Instagram's 1,000-byte message is sent in parts.
    package static let maximumReplyCharacters = 1_000
    package static let maximumPatternLength = 200
    /// Instagram's limits: 13 quick replies, 3 buttons, 20 characters per title, 640 characters of button-template text.
    package static let maximumQuickReplies = 13
    package static let maximumButtons = 3
    package static let maximumOptionTitle = 20
    package static let maximumButtonText = 640

    /// Problems with a rule, in words a business owner understands; empty when it is fine.
    package static func problems(_ rule: ReplyRule) -> [String] { fieldProblems(rule).map(\.message) }

    /// The same problems, each with the field it is about (`keywords`, `negative_keywords`, `reply`), so the dashboard
    /// can show it next to that field.
    package static func fieldProblems(_ rule: ReplyRule) -> [(field: String, message: String)] {
        var problems: [(field: String, message: String)] = []
        let keywords = rule.keywords.map { $0.trimmingWhitespace() }
        // A story rule may have none: it answers every story reply (or mention), a mention often having no text at all.
        let needsKeyword = rule.trigger == .message || rule.trigger == .any
        if needsKeyword && (keywords.isEmpty || keywords.allSatisfy(\.isEmpty)) { problems.append(("keywords", "Add at least one keyword.")) }
        if keywords.count > maximumKeywords { problems.append(("keywords", "Use at most \(maximumKeywords) keywords in one rule.")) }
        if keywords.contains(where: { $0.count > maximumKeywordLength }) {
            problems.append(("keywords", "Keep each keyword under \(maximumKeywordLength) characters."))
        }
        if rule.negativeKeywords.contains(where: { $0.count > maximumKeywordLength }) {
            problems.append(("negative_keywords", "Keep each word under \(maximumKeywordLength) characters."))
        }
        if rule.matchType == .regex {
            for pattern in keywords { if let problem = patternProblem(pattern) { problems.append(("keywords", problem)) } }
        } else if keywords.contains(where: { !$0.isEmpty && TextNormalizer.tokens($0).isEmpty }) {
            problems.append(("keywords", "A keyword made only of punctuation can never match."))
        }
        if let minutes = rule.handOffMinutes, !(1...10_080).contains(minutes) {
            problems.append(("hand_off_minutes", "Hand the conversation over for 1 to 10,080 minutes (a week)."))
        }
        problems += optionProblems(rule)
        let reply = rule.reply.trimmingWhitespace()
        if reply.isEmpty { problems.append(("reply", "Write the reply to send.")) }
        if reply.count > maximumReplyCharacters {
            problems.append(("reply", "Keep the reply under \(grouped(maximumReplyCharacters)) characters (it has \(grouped(reply.count))).")) }
        else if rule.optionKind == .buttons && reply.count > maximumButtonText {
            problems.append(("reply", "With buttons, keep the reply under \(maximumButtonText) characters (it has \(grouped(reply.count))).")) }
        return problems
    }

    /// Instagram's limits on quick replies and buttons; whether each option's rule exists is the API's to check.
    static func optionProblems(_ rule: ReplyRule) -> [(field: String, message: String)] {
        guard let kind = rule.optionKind else { return [] }
        let field = kind.rawValue
        var problems: [(field: String, message: String)] = []
        let limit = kind == .buttons ? maximumButtons : maximumQuickReplies
        if rule.options.count > limit {
            problems.append(kind == .buttons
                ? (field, "Use at most \(limit) buttons (this has \(rule.options.count)).")
                : (field, "Instagram shows at most \(limit) quick replies (this has \(rule.options.count))."))
        }
        for option in rule.options {
            let title = option.title.trimmingWhitespace()
            if title.isEmpty { problems.append((field, "Give every option a title.")) }
            if title.count > maximumOptionTitle {
                problems.append((field, "Keep option titles to \(maximumOptionTitle) characters: “\(title)” has \(title.count)."))
            }
            if option.nextRuleID.isEmpty { problems.append((field, "Choose the rule that answers option “\(title)”.")) }
        }
        return problems
    }

    /// 1234 → "1,234", as the dashboard writes numbers (this module does without Foundation).
    static func grouped(_ n: Int) -> String {
        var digits = String(n), out = ""
        while digits.count > 3 { out = "," + digits.suffix(3) + out; digits.removeLast(3) }
        return digits + out
    }

    /// Why a regular expression is refused, in plain words quoting it; nil when it is fine. Patterns run on RE2
    /// (`LinearRegex`), whose matching time is linear in the text whatever the pattern, so what is refused is what
    /// does not compile, what RE2 cannot do (backreferences, lookarounds), and a program too large to run cheaply.
    package static func patternProblem(_ pattern: String) -> String? {
        if case .failure(let problem) = compile(pattern) { return problem.message }
        return nil
    }

    /// The compiled pattern, or why it is refused. The matcher compiles stored rules through this too, so a pattern
    /// saved under older limits is left out rather than run.
    package static func compile(_ pattern: String) -> Result<LinearRegex, PatternProblem> {
        guard !pattern.isEmpty else { return .failure(PatternProblem(message: "A pattern cannot be empty.")) }
        guard pattern.count <= maximumPatternLength else {
            return .failure(PatternProblem(message: "Keep patterns under \(maximumPatternLength) characters."))
        }
        do {
            return .success(try LinearRegex(pattern))
        } catch {
            let message = switch error {
            case .backreference:
                "The pattern “\(pattern)” uses a backreference (like \\1), which patterns do not support."
            case .lookaround:
                "The pattern “\(pattern)” uses a lookahead or lookbehind (like (?=…) or (?<!…)), which patterns do not support."
            case .tooComplex:
                "The pattern “\(pattern)” is too complex; make it shorter or split it into several keywords."
            case .invalid(let reason):
                "The pattern “\(pattern)” is not a valid regular expression (\(reason))."
            }
            return .failure(PatternProblem(message: message))
        }
    }
}

/// Why a pattern is refused, in words for the business owner.
package struct PatternProblem: Error, Equatable, Sendable {
    package let message: String
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        String(self.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
