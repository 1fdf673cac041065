import Foundation

/// An account's rules compiled once into one token-level Aho–Corasick automaton over every keyword, so a message is
/// matched in one pass over its tokens whatever the number of rules. Build it when the rules change and reuse it.
///
/// Order is explicit: among the rules that match (and whose negative keywords do not), the highest priority answers,
/// then the oldest, then the smallest id.
package struct RuleMatcher: Sendable {
    private enum Role: Sendable { case positive, negative }
    private struct Pattern: Sendable {
        let rule: Int
        let keyword: Int
        let role: Role
        let length: Int
    }
    private struct Compiled: Sendable {
        let rule: ReplyRule
        let rank: Int
        /// Compiled patterns of a regex rule, with the index of their keyword.
        let regexes: [(keyword: Int, regex: LinearRegex)]
    }

    /// The most characters of the normalised message regex rules see: a DM holds at most 1,000. RE2's matching time is
    /// linear in the text, but also grows with the pattern's program (up to `LinearRegex.maximumProgramSize` steps per
    /// byte when its automaton cache fills), so the cap keeps one pattern's worst case a fixed, small bound.
    package static let maximumRegexCharacters = 1_000

    private let rules: [Compiled]
    private let vocabulary: [String: Int]
    private let patterns: [Pattern]
    // Automaton: per node, transitions by token id; failure links; pattern ids ending here (failure outputs merged).
    private let transitions: [[Int: Int]]
    private let failure: [Int]
    private let outputs: [[Int]]
    private let regexRules: [Int]
    /// Rules with no keyword (story triggers only): they answer every event of their trigger.
    private let catchAll: [Int]

    package init(rules input: [ReplyRule]) {
        let enabled = input.filter(\.enabled)
        let ordered = enabled.sorted { a, b in
            if a.priority != b.priority { return a.priority > b.priority }
            if a.createdAt != b.createdAt { return a.createdAt < b.createdAt }
            return a.id < b.id
        }
        var vocabulary: [String: Int] = [:]
        var patterns: [Pattern] = []
        var sequences: [[Int]] = []
        var compiled: [Compiled] = []
        var regexRules: [Int] = []
        var catchAll: [Int] = []

        func intern(_ tokens: [String]) -> [Int] {
            tokens.map { token in
                if let id = vocabulary[token] { return id }
                let id = vocabulary.count
                vocabulary[token] = id
                return id
            }
        }
        func add(_ tokens: [String], rule: Int, keyword: Int, role: Role) {
            guard !tokens.isEmpty else { return }
            patterns.append(Pattern(rule: rule, keyword: keyword, role: role, length: tokens.count))
            sequences.append(intern(tokens))
        }

        for (index, rule) in ordered.enumerated() {
            var regexes: [(keyword: Int, regex: LinearRegex)] = []
            for (k, keyword) in rule.keywords.enumerated() {
                switch rule.matchType {
                case .regex:
                    // Compiled once per rule set, case-insensitive; a pattern saved before the validator's current limits
                    // (or one RE2 refuses) is left out.
                    if case .success(let regex) = RuleValidator.compile(keyword) { regexes.append((k, regex)) }
                case .anyWord:
                    for word in TextNormalizer.tokens(keyword) { add([word], rule: index, keyword: k, role: .positive) }
                default:
                    add(TextNormalizer.tokens(keyword), rule: index, keyword: k, role: .positive)
                }
            }
            for (k, negative) in rule.negativeKeywords.enumerated() {
                add(TextNormalizer.tokens(negative), rule: index, keyword: k, role: .negative)
            }
            if rule.matchType == .regex { regexRules.append(index) }
            if rule.keywords.allSatisfy({ $0.isEmpty }) && rule.trigger != .message { catchAll.append(index) }
            compiled.append(Compiled(rule: rule, rank: index, regexes: regexes))
        }

        // Trie.
        var transitions: [[Int: Int]] = [[:]]
        var outputs: [[Int]] = [[]]
        for (patternIndex, sequence) in sequences.enumerated() {
            var node = 0
            for token in sequence {
                if let next = transitions[node][token] {
                    node = next
                } else {
                    transitions.append([:])
                    outputs.append([])
                    transitions[node][token] = transitions.count - 1
                    node = transitions.count - 1
                }
            }
            outputs[node].append(patternIndex)
        }
        // Failure links by breadth-first search; each node's outputs include those of its failure target.
        var failure = [Int](repeating: 0, count: transitions.count)
        var queue: [Int] = []
        for (_, child) in transitions[0] { queue.append(child) }
        var head = 0
        while head < queue.count {
            let node = queue[head]
            head += 1
            for (token, child) in transitions[node] {
                queue.append(child)
                var fallback = failure[node]
                while fallback != 0 && transitions[fallback][token] == nil { fallback = failure[fallback] }
                let target = transitions[fallback][token] ?? 0
                failure[child] = target == child ? 0 : target
                outputs[child].append(contentsOf: outputs[failure[child]])
            }
        }
        self.rules = compiled
        self.vocabulary = vocabulary
        self.patterns = patterns
        self.transitions = transitions
        self.failure = failure
        self.outputs = outputs
        self.regexRules = regexRules
        self.catchAll = catchAll
    }

    /// How many enabled rules the matcher holds.
    package var count: Int { rules.count }

    /// The rule that answers `text`, or nil.
    /// The rule that answers `text` in an event of kind `trigger` (a direct message by default): only rules whose
    /// trigger answers it take part.
    package func match(_ text: String, trigger: RuleTrigger = .message) -> RuleMatch? {
        let tokens = TextNormalizer.tokens(text)
        var best: (rank: Int, keyword: Int)?
        var positives: [(rule: Int, keyword: Int)] = []
        var negatives = Set<Int>()
        var node = 0
        for (position, token) in tokens.enumerated() {
            guard let id = vocabulary[token] else {
                node = 0
                continue
            }
            while node != 0 && transitions[node][id] == nil { node = failure[node] }
            node = transitions[node][id] ?? 0
            for patternIndex in outputs[node] {
                let pattern = patterns[patternIndex]
                switch pattern.role {
                case .negative:
                    negatives.insert(pattern.rule)
                case .positive:
                    let end = position + 1
                    let start = end - pattern.length
                    let hit: Bool
                    switch rules[pattern.rule].rule.matchType {
                    case .contains, .anyWord: hit = true
                    case .startsWith: hit = start == 0
                    case .exact: hit = start == 0 && end == tokens.count
                    case .regex: hit = false
                    }
                    if hit && rules[pattern.rule].rule.trigger.answers(trigger) { positives.append((pattern.rule, pattern.keyword)) }
                }
            }
        }
        for (rule, keyword) in positives where !negatives.contains(rule) {
            if best == nil || rule < best!.rank || (rule == best!.rank && keyword < best!.keyword) { best = (rule, keyword) }
        }
        // Regex rules: only those that could beat the best keyword match are tried.
        if !regexRules.isEmpty {
            let joined = tokens.joined(separator: " ")
            let normalized = joined.count > Self.maximumRegexCharacters ? String(joined.prefix(Self.maximumRegexCharacters)) : joined
            for rule in regexRules where best == nil || rule < best!.rank {
                guard !negatives.contains(rule), rules[rule].rule.trigger.answers(trigger) else { continue }
                if let hit = rules[rule].regexes.first(where: { $0.regex.matches(normalized) }) {
                    best = (rule, hit.keyword)
                    break
                }
            }
        }
        // A story rule without keywords answers what no earlier rule did.
        if let rule = catchAll.first(where: { (best == nil || $0 < best!.rank) && !negatives.contains($0) && rules[$0].rule.trigger.answers(trigger) }) {
            let matched = rules[rule].rule
            return Self.found(matched, keyword: "", trigger: trigger)
        }
        guard let best else { return nil }
        let rule = rules[best.rank].rule
        return Self.found(rule, keyword: rule.keywords[best.keyword], trigger: trigger)
    }

    /// The enabled rule `id` (lower-case), as the answer to a tap on option `title`: a menu's option names the rule that
    /// answers it, whatever that rule's keywords. Nil when it was deleted or turned off.
    package func tapped(ruleID id: String, title: String) -> RuleMatch? {
        guard let rule = rules.first(where: { $0.rule.id == id })?.rule else { return nil }
        var found = Self.found(rule, keyword: "", trigger: .message)
        found.tappedOption = title
        return found
    }

    private static func found(_ rule: ReplyRule, keyword: String, trigger: RuleTrigger) -> RuleMatch {
        var found = RuleMatch(ruleID: rule.id, reply: rule.reply, matchType: rule.matchType, keyword: keyword, trigger: trigger)
        found.handOffMinutes = rule.handOffMinutes
        found.optionKind = rule.optionKind
        found.options = rule.options
        return found
    }
}
