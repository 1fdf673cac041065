import FlowtalkTesting
import Foundation
import ReplyRules
import Testing

@Suite struct TextNormalizerTests {
    @Test(arguments: [
        ("HeLLo, World!!", ["hello", "world"]),
        ("Café crème", ["cafe", "creme"]),
        ("ＰＲＩＣＥ？", ["price"]),
        ("ﬁne", ["fine"]),
        ("Straße", ["strasse"]),
        ("ΣΟΦΟΣ", ["σοφοσ"]),
        ("σοφος", ["σοφοσ"]),
        ("ЦЕНА?", ["цена"]),
        ("مَرْحَبًا", ["مرحبا"]),
        ("٣ قطع", ["3", "قطع"]),
        ("१२३", ["123"]),
        ("price👋🏽ok", ["price", "👋", "ok"]),
        ("I ❤️ it", ["i", "❤", "it"]),
        ("价格多少", ["价", "格", "多", "少"]),
        ("e-mail: a.b@c.de", ["e", "mail", "a", "b", "c", "de"]),
        ("   ", []),
    ])
    func normalisation(text: String, expected: [String]) {
        #expect(TextNormalizer.tokens(text) == expected)
    }

    @Test func sameWordsInDifferentFormsNormaliseTheSame() {
        let pairs = [("Ünïcödé", "unicode"), ("नमस्ते", "नमस्ते"), ("שָׁלוֹם", "שלום"), ("ＡＢＣ１２３", "abc123"), ("Ｈｅｌｌｏ", "hello")]
        for (a, b) in pairs { #expect(TextNormalizer.tokens(a) == TextNormalizer.tokens(b), "\(a) vs \(b)") }
    }

    @Test func veryLongInputIsBounded() {
        let text = String(repeating: "word ", count: 10_000)
        #expect(TextNormalizer.tokens(text).count <= TextNormalizer.maximumCharacters / 5 + 1)
    }
}

@Suite struct RuleMatcherTests {
    let t0 = Date(timeIntervalSince1970: 1_700_000_000)

    func rule(_ id: String, _ keywords: [String], _ type: MatchType = .contains, not: [String] = [], priority: Int = 0, enabled: Bool = true, age: Int = 0)
        -> ReplyRule
    {
        ReplyRule(
            id: id, keywords: keywords, matchType: type, negativeKeywords: not, priority: priority, enabled: enabled, reply: "reply \(id)",
            createdAt: t0.addingTimeInterval(Double(age)))
    }

    @Test func containsMatchesWholeWordsOnly() {
        let matcher = RuleMatcher(rules: [rule("price", ["price"]), rule("hours", ["opening hours"])])
        #expect(matcher.match("What's the PRICE?")?.ruleID == "price")
        #expect(matcher.match("this is priceless") == nil)
        #expect(matcher.match("your opening   hours please")?.ruleID == "hours")
        #expect(matcher.match("opening a store, hours later") == nil)
        #expect(matcher.match("") == nil)
    }

    @Test func exactStartsWithAndAnyWord() {
        let matcher = RuleMatcher(rules: [
            rule("exact", ["hi"], .exact), rule("starts", ["order status"], .startsWith), rule("any", ["refund return exchange"], .anyWord),
        ])
        #expect(matcher.match("Hi!")?.ruleID == "exact")
        #expect(matcher.match("hi there") == nil)
        #expect(matcher.match("Order status: #123?")?.ruleID == "starts")
        #expect(matcher.match("my order status") == nil)
        #expect(matcher.match("can I EXCHANGE this")?.ruleID == "any")
        #expect(matcher.match("Can I return it?")?.ruleID == "any")
    }

    @Test func negativeKeywordsVetoTheirRuleOnly() {
        let matcher = RuleMatcher(rules: [rule("ship", ["shipping"], not: ["international"], priority: 2), rule("generic", ["shipping"])])
        #expect(matcher.match("shipping cost?")?.ruleID == "ship")
        #expect(matcher.match("international shipping cost?")?.ruleID == "generic")
    }

    @Test func priorityThenAgeDecides() {
        let matcher = RuleMatcher(rules: [
            rule("new-low", ["price"], age: 10), rule("old-low", ["price"], age: 1), rule("high", ["cost"], priority: 5, age: 20),
            rule("off", ["price"], priority: 99, enabled: false),
        ])
        #expect(matcher.count == 3)
        #expect(matcher.match("price")?.ruleID == "old-low")
        #expect(matcher.match("price and cost")?.ruleID == "high")
    }

    @Test func regexRulesAreMatchedOnTheNormalisedText() {
        let matcher = RuleMatcher(rules: [rule("order", [#"order \d{4,}"#], .regex), rule("kw", ["hello"], priority: -1)])
        #expect(matcher.match("ORDER #12345 status?")?.ruleID == "order")
        #expect(matcher.match("order 12") == nil)
        #expect(matcher.match("hello order 1234")?.ruleID == "order")
        #expect(matcher.match("hello")?.ruleID == "kw")
    }

    @Test func nonLatinScriptsAndEmoji() {
        let matcher = RuleMatcher(rules: [
            rule("ar", ["السعر"]), rule("zh", ["价格"]), rule("ru", ["цена"]), rule("heart", ["❤️"]), rule("digits", ["size 3"]),
        ])
        #expect(matcher.match("كم السعر؟")?.ruleID == "ar")
        #expect(matcher.match("请问价格多少")?.ruleID == "zh")
        #expect(matcher.match("Какая ЦЕНА?")?.ruleID == "ru")
        #expect(matcher.match("I ❤ this")?.ruleID == "heart")
        #expect(matcher.match("do you have SIZE ٣")?.ruleID == "digits")
    }

    @Test func theResultSaysWhichRuleAndWhy() throws {
        let matcher = RuleMatcher(rules: [rule("hours", ["Opening Hours", "when open"])])
        let match = try #require(matcher.match("what are your opening hours"))
        #expect(match == RuleMatch(ruleID: "hours", reply: "reply hours", matchType: .contains, keyword: "Opening Hours"))
        #expect(match.explanation == "the message contains “Opening Hours”")
    }

    /// The automaton must agree with the obvious definition on random rule sets and messages.
    @Test func agreesWithANaiveMatcherOnRandomRules() {
        var random = SeededGenerator(seed: 7)
        let words = ["price", "cost", "ship", "shipping", "hours", "open", "مرحبا", "цена", "价", "格", "❤", "3", "a", "the"]
        func phrase(_ n: Int) -> [String] { (0..<n).map { _ in words.randomElement(using: &random)! } }
        for _ in 0..<300 {
            var rules: [ReplyRule] = []
            for index in 0..<Int.random(in: 1...12, using: &random) {
                let type = [MatchType.contains, .exact, .startsWith, .anyWord].randomElement(using: &random)!
                let keywords = (0..<Int.random(in: 1...3, using: &random)).map { _ in phrase(Int.random(in: 1...3, using: &random)).joined(separator: " ") }
                let negatives = Bool.random(using: &random) ? [phrase(1).joined()] : []
                rules.append(
                    rule("r\(index)", keywords, type, not: negatives, priority: Int.random(in: 0...2, using: &random), age: Int.random(in: 0...5, using: &random)))
            }
            let matcher = RuleMatcher(rules: rules)
            for _ in 0..<10 {
                let message = phrase(Int.random(in: 0...8, using: &random)).joined(separator: " ")
                #expect(matcher.match(message)?.ruleID == naive(rules, message), "\(message)")
            }
        }
    }

    func naive(_ rules: [ReplyRule], _ message: String) -> String? {
        let tokens = TextNormalizer.tokens(message)
        func contains(_ needle: [String]) -> Bool {
            guard !needle.isEmpty, needle.count <= tokens.count else { return false }
            return (0...(tokens.count - needle.count)).contains { Array(tokens[$0..<($0 + needle.count)]) == needle }
        }
        let ordered = rules.filter(\.enabled).sorted {
            ($0.priority, $1.createdAt, $1.id) > ($1.priority, $0.createdAt, $0.id)
        }
        for rule in ordered {
            if rule.negativeKeywords.contains(where: { contains(TextNormalizer.tokens($0)) }) { continue }
            let hit = rule.keywords.contains { keyword in
                let k = TextNormalizer.tokens(keyword)
                switch rule.matchType {
                case .contains: return contains(k)
                case .exact: return !k.isEmpty && k == tokens
                case .startsWith: return !k.isEmpty && tokens.starts(with: k)
                case .anyWord: return k.contains { contains([$0]) }
                case .regex: return false
                }
            }
            if hit { return rule.id }
        }
        return nil
    }
}

@Suite struct RuleValidatorTests {
    func rule(_ keywords: [String], _ type: MatchType = .contains, reply: String = "ok") -> ReplyRule {
        ReplyRule(id: "r", keywords: keywords, matchType: type, reply: reply)
    }

    @Test func sensibleRulesPass() {
        #expect(RuleValidator.problems(rule(["price", "how much"])).isEmpty)
        #expect(RuleValidator.problems(rule([#"order \d+"#], .regex)).isEmpty)
    }

    @Test func badRulesAreExplained() {
        #expect(RuleValidator.problems(rule([])) == ["Add at least one keyword."])
        #expect(RuleValidator.problems(rule(["  "])).contains("Add at least one keyword."))
        #expect(RuleValidator.problems(rule(["!!!"])) == ["A keyword made only of punctuation can never match."])
        #expect(RuleValidator.problems(rule(["x"], reply: "  ")) == ["Write the reply to send."])
        // Characters, not bytes: 1,000 accented letters (2,000 bytes) are fine, 1,001 are not.
        #expect(RuleValidator.problems(rule(["x"], reply: String(repeating: "é", count: 1_000))).isEmpty)
        #expect(RuleValidator.fieldProblems(rule(["x"], reply: String(repeating: "é", count: 1_001))).map(\.field) == ["reply"])
        #expect(!RuleValidator.problems(rule(Array(repeating: "x", count: 51))).isEmpty)
        #expect(!RuleValidator.problems(rule([String(repeating: "x", count: 101)])).isEmpty)
    }

    /// Only what RE2 cannot compile is refused: backreferences, lookarounds, syntax errors, overlong patterns. Nested
    /// repetition like `(a+)+` runs in linear time now (see ReDoSTests).
    @Test(arguments: [#"(a)\1"#, #"(?=a)b"#, #"(?<!a)b"#, #"["#, String(repeating: "a", count: 201)])
    func brokenOrUnsupportedPatternsAreRefused(pattern: String) {
        #expect(RuleValidator.patternProblem(pattern) != nil)
    }
}

/// Regex rules used to run on Swift's backtracking Regex behind a structural check (PatternComplexity) that refused
/// nested or repeated choices, more than one repetition, and so on. They run on RE2 now (issue 12): those patterns are
/// accepted and match in linear time (ReDoSTests), and what is refused is what RE2 cannot compile.
@Suite struct RegexSyntaxTests {
    /// Refused by RE2: extended mode, PCRE verbs, Perl's named groups and backreferences, a quantifier quantified.
    @Test(arguments: [
        #"(?x) a+ #[\n a+ ]"#, #"(*positive_lookahead:a)b"#, #"(?<name>a)\k<name>"#, #"a{2}{3}"#, #"a++"#, #"\Z"#,
    ])
    func patternsRE2CannotCompileAreRefused(pattern: String) {
        #expect(RuleValidator.patternProblem(pattern) != nil, "\(pattern)")
    }

    @Test(arguments: [
        #"^(open|opening) hours?"#, #"order #?\d{4,}"#, #"colou?r [a-z]+"#, #"\bsize (s|m|l|xl)\b"#, #"(hi|hello|hey) \w+"#,
        #"\p{L}+ mug"#, #"[(|)]+x"#, #"price|cost|how much"#, #"\d{4}-\d{2}-\d{2}"#, #"(?i)track(ing)? .*"#, #"(a+)?"#,
        #"(a|a)*b"#, #"\w*\w*x"#, #"(red|blue)+ mug"#, #"\Qa[\E a+a+"#, #"[]a]+a+"#, #"(?P<size>s|m|l) shirt"#,
    ])
    func everydayPatternsPass(pattern: String) {
        #expect(RuleValidator.patternProblem(pattern) == nil, "\(pattern)")
    }

    @Test(.timeLimit(.minutes(1)))
    func aStoredPatternRE2RefusesIsLeftOutNotRun() {
        let matcher = RuleMatcher(rules: [
            ReplyRule(id: "bad", keywords: [#"(o)\1"#, "^ok"], matchType: .regex, reply: "bad"),
            ReplyRule(id: "kw", keywords: ["price"], priority: -1, reply: "kw"),
        ])
        #expect(matcher.match(String(repeating: "ok", count: 500))?.keyword == "^ok")
        #expect(matcher.match("oo price")?.ruleID == "kw")
    }

    @Test func regexRulesSeeTheFirstThousandCharacters() {
        let matcher = RuleMatcher(rules: [ReplyRule(id: "end", keywords: ["x$"], matchType: .regex, reply: "x")])
        #expect(matcher.match(String(repeating: "a ", count: 400) + "x")?.ruleID == "end")
        #expect(matcher.match(String(repeating: "a ", count: 600) + "x") == nil)
    }
}

@Suite struct ReplyTemplateTests {
    @Test func usernameOnlyWhenKnown() {
        #expect(ReplyTemplate.render("Hi {username}, welcome!", username: "ana") == "Hi ana, welcome!")
        #expect(ReplyTemplate.render("Hi {username}, welcome!") == "Hi, welcome!")
        #expect(ReplyTemplate.render("No variables here.") == "No variables here.")
    }

    @Test func eachRuleAnswersOnlyItsKindOfEventAndAStoryRuleMayHaveNoKeyword() {
        let dm = ReplyRule(id: "dm", keywords: ["price"], reply: "DM price", createdAt: Date(timeIntervalSince1970: 1))
        let story = ReplyRule(id: "story", keywords: ["price"], reply: "Story price", createdAt: Date(timeIntervalSince1970: 2), trigger: .storyReply)
        let mention = ReplyRule(id: "mention", keywords: [], reply: "Thanks for the mention!", createdAt: Date(timeIntervalSince1970: 3), trigger: .storyMention)
        let any = ReplyRule(id: "any", keywords: ["hours"], reply: "9 to 6", createdAt: Date(timeIntervalSince1970: 4), trigger: .any)
        let matcher = RuleMatcher(rules: [dm, story, mention, any])
        #expect(matcher.match("what is the price")?.ruleID == "dm")
        #expect(matcher.match("what is the price", trigger: .storyReply)?.ruleID == "story")
        #expect(matcher.match("", trigger: .storyMention)?.ruleID == "mention")
        #expect(matcher.match("", trigger: .storyMention)?.explanation == "it answers every story mention")
        #expect(matcher.match("what is the price", trigger: .storyMention)?.ruleID == "mention")
        #expect(matcher.match("your hours?", trigger: .storyReply)?.ruleID == "any" && matcher.match("your hours?")?.ruleID == "any")
        #expect(matcher.match("hello", trigger: .storyReply) == nil)
        // Keywords stay required for direct messages; a story rule may do without.
        #expect(RuleValidator.problems(ReplyRule(id: "", keywords: [], reply: "x")) == ["Add at least one keyword."])
        #expect(RuleValidator.problems(ReplyRule(id: "", keywords: [], reply: "x", trigger: .storyMention)).isEmpty)
    }
}
