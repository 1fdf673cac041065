import ReplyRules
import Testing

/// Issue 12: regex rules ran on Swift's backtracking `Regex`, and the validator's heuristics let through patterns whose
/// matching time explodes (`(a|aa)+$` took 0.30 s on "a" × 24 + "b", doubling every two characters), so one business's
/// rule could hold a dispatch worker for minutes. Rules now run on RE2, linear in the text for every pattern it accepts.
///
/// Each classic ReDoS pattern below is either refused with a clear error or accepted, and then answers correctly on a
/// 1,000-character adversarial message (the pumped text with a tail that makes the pattern miss, or match). On the
/// backtracking engine these messages take hours; no test here measures time.
@Suite(.timeLimit(.minutes(1))) struct ReDoSTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let pattern: String
        let pump: String
        let tail: String
        let matches: Bool
        var testDescription: String { "\(pattern) on \(pump)… + \(tail.debugDescription) → \(matches ? "match" : "miss")" }

        /// The pumped text, cut to 1,000 characters with the tail.
        var message: String {
            let body = String(repeating: pump, count: 1_000 / pump.count + 1)
            return String(body.prefix(1_000 - tail.count)) + tail
        }
    }

    /// The three patterns the security review found accepted, and a catalogue of classic ReDoS patterns (nested
    /// quantifiers, overlapping alternation, polynomial repetition, e-mail and word-list patterns). Messages are seen
    /// normalised (lower case, punctuation as spaces; an emoji stays a token of its own, so "❤" ends a text with a
    /// non-word character).
    static let catalogue: [Case] = [
        Case(pattern: #"(a|aa)+$"#, pump: "a", tail: "b", matches: false),
        Case(pattern: #"a*a*a*a*a*a*a*b"#, pump: "a", tail: "", matches: false),
        Case(pattern: #"a*a*a*a*a*a*a*b"#, pump: "a", tail: "b", matches: true),
        Case(pattern: #"(\w+[(]?)+$"#, pump: "a", tail: " ❤", matches: false),
        Case(pattern: #"(a+)+$"#, pump: "a", tail: "b", matches: false),
        Case(pattern: #"^(a+)+$"#, pump: "a", tail: "", matches: true),
        Case(pattern: #"(a*)*b"#, pump: "a", tail: "", matches: false),
        Case(pattern: #"(a|a)*c"#, pump: "a", tail: "", matches: false),
        Case(pattern: #"(a|a)*c"#, pump: "a", tail: "c", matches: true),
        Case(pattern: #"(.*a){12}"#, pump: "x", tail: String(repeating: "a", count: 11), matches: false),
        Case(pattern: #"(.*a){12}"#, pump: "xa", tail: "", matches: true),
        Case(pattern: #"^(([a-z])+.)+[A-Z]([a-z])+$"#, pump: "a", tail: " ❤", matches: false),
        Case(pattern: #"(x+x+)+y"#, pump: "x", tail: "", matches: false),
        Case(pattern: #"(x+x+)+y"#, pump: "x", tail: "y", matches: true),
        Case(pattern: #"^([a-z0-9]+[._-]?)+@[a-z]+\.[a-z]{2,}$"#, pump: "a", tail: "!", matches: false),
        Case(pattern: #"^([a-zA-Z0-9])(([\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$"#,
             pump: "a", tail: "!", matches: false),
        Case(pattern: #"(\w+\s?)+$"#, pump: "a", tail: " ❤", matches: false),
        Case(pattern: #"(\w+\s?)+$"#, pump: "ab ", tail: "z", matches: true),
        Case(pattern: #"^(\w+\s?)*$"#, pump: "a", tail: " ❤", matches: false),
        Case(pattern: #"(a|b|ab)*c"#, pump: "ab", tail: "", matches: false),
        Case(pattern: #"((ab)*|a)*x"#, pump: "ab", tail: "", matches: false),
        Case(pattern: #"(\d+)*x"#, pump: "1", tail: "", matches: false),
        Case(pattern: #"\w*\w*\w*x"#, pump: "a", tail: "", matches: false),
        Case(pattern: #"(\w|o)*x"#, pump: "ok", tail: "", matches: false),
        Case(pattern: #"(a|aa){20}z"#, pump: "a", tail: "", matches: false),
        Case(pattern: #"(red|re|d)+ mug"#, pump: "red", tail: " cup", matches: false),
        Case(pattern: #"(red|re|d)+ mug"#, pump: "red", tail: " mug", matches: true),
        Case(pattern: #".*.*=.*"#, pump: "x", tail: "", matches: false),
        Case(pattern: #"^(\d+\s?)+$"#, pump: "12 ", tail: " ❤", matches: false),
        Case(pattern: #"^(\d+\s?)+$"#, pump: "12 ", tail: "3", matches: true),
    ]

    @Test(arguments: catalogue)
    func everyAcceptedPatternAnswersAnAdversarialMessage(_ test: Case) {
        #expect(RuleValidator.patternProblem(test.pattern) == nil, "\(test.pattern) is accepted")
        let matcher = RuleMatcher(rules: [ReplyRule(id: "redos", keywords: [test.pattern], matchType: .regex, reply: "ok")])
        #expect((matcher.match(test.message) != nil) == test.matches)
    }

    /// What RE2 cannot run in linear time is refused outright, in words that say why.
    @Test(arguments: [
        (#"^(a+)\1*$"#, "backreference"), (#"(?P<x>a+)\k<x>"#, "backreference"), (#"(?=(a+))\1b"#, "lookahead or lookbehind"),
        (#"(?<!a)(a+)+b"#, "lookahead or lookbehind"), (#"(.*){1,32000}[bc]"#, "not a valid regular expression"),
        (#"(a+)++b"#, "not a valid regular expression"), (#".{1000}"#, "too complex"), (#"\pL{50}"#, "too complex"),
    ])
    func whatRE2CannotDoIsRefusedClearly(pattern: String, reason: String) throws {
        let problem = try #require(RuleValidator.patternProblem(pattern))
        #expect(problem.contains(reason) && problem.contains("“\(pattern)”"), "\(problem)")
    }
}
