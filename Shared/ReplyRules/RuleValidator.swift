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

    /// Why a regular expression is refused: it must compile, be short, and have no construct whose matching time can
    /// explode (nested or repeated choices, more than one repetition, backreferences, lookarounds; see
    /// `PatternComplexity`). The matcher applies the same check to stored rules.
    package static func patternProblem(_ pattern: String) -> String? {
        guard !pattern.isEmpty else { return "A pattern cannot be empty." }
        guard pattern.count <= maximumPatternLength else { return "Keep patterns under \(maximumPatternLength) characters." }
        guard (try? Regex(pattern)) != nil else { return "The pattern “\(pattern)” is not a valid regular expression." }
        return PatternComplexity.problem(pattern)
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        String(self.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
