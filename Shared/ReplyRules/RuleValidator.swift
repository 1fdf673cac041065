/// Limits on what a business may save as a rule, so every rule can be matched quickly and safely.
package enum RuleValidator {
    package static let maximumKeywords = 50
    package static let maximumKeywordLength = 100
    package static let maximumReplyBytes = 1_000
    package static let maximumPatternLength = 200

    /// Problems with a rule, in words a business owner understands; empty when it is fine.
    package static func problems(_ rule: ReplyRule) -> [String] {
        var problems: [String] = []
        let keywords = rule.keywords.map { $0.trimmingWhitespace() }
        if keywords.isEmpty || keywords.allSatisfy(\.isEmpty) { problems.append("Add at least one keyword.") }
        if keywords.count > maximumKeywords { problems.append("Use at most \(maximumKeywords) keywords in one rule.") }
        for keyword in keywords + rule.negativeKeywords where keyword.count > maximumKeywordLength {
            problems.append("Keep each keyword under \(maximumKeywordLength) characters.")
            break
        }
        if rule.matchType == .regex {
            for pattern in keywords { if let problem = patternProblem(pattern) { problems.append(problem) } }
        } else if keywords.contains(where: { !$0.isEmpty && TextNormalizer.tokens($0).isEmpty }) {
            problems.append("A keyword made only of punctuation can never match.")
        }
        let reply = rule.reply.trimmingWhitespace()
        if reply.isEmpty { problems.append("Write the reply to send.") }
        if reply.utf8.count > maximumReplyBytes { problems.append("Keep the reply under \(maximumReplyBytes) bytes (Instagram's limit).") }
        return problems
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
