// Regex rules on adversarial text (issue 12): the worst time per message over a catalogue of classic ReDoS patterns,
// for RE2 (what rules run on) on 1,000-character messages, and for Swift's backtracking Regex (what they ran on) on
// short ones, in the same run. The backtracking engine cannot be interrupted, so its text grows two characters at a
// time and stops for a pattern as soon as one message takes longer than `backtrackingBudget`.
import Foundation
import ReplyRules

/// Pattern, the text pumped, and a tail that makes the pattern miss (or work hardest).
let redosCatalogue: [(pattern: String, pump: String, tail: String)] = [
    (#"(a|aa)+$"#, "a", "b"), (#"a*a*a*a*a*a*a*b"#, "a", ""), (#"(\w+[(]?)+$"#, "a", " ❤"), (#"(a+)+$"#, "a", "b"),
    (#"(a*)*b"#, "a", ""), (#"(a|a)*c"#, "a", ""), (#"(.*a){12}"#, "x", "aaaaaaaaaaa"), (#"^(([a-z])+.)+[A-Z]([a-z])+$"#, "a", " ❤"),
    (#"(x+x+)+y"#, "x", ""), (#"^([a-z0-9]+[._-]?)+@[a-z]+\.[a-z]{2,}$"#, "a", "!"),
    (#"^([a-zA-Z0-9])(([\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$"#, "a", "!"),
    (#"(\w+\s?)+$"#, "a", " ❤"), (#"^(\w+\s?)*$"#, "a", " ❤"), (#"(a|b|ab)*c"#, "ab", ""), (#"((ab)*|a)*x"#, "ab", ""),
    (#"(\d+)*x"#, "1", ""), (#"\w*\w*\w*x"#, "a", ""), (#"(\w|o)*x"#, "ok", ""), (#"(a|aa){20}z"#, "a", ""),
    (#"(red|re|d)+ mug"#, "red", " cup"), (#".*.*=.*"#, "x", ""), (#"^(\d+\s?)+$"#, "12 ", " ❤"),
]

func adversarial(_ pump: String, _ tail: String, length: Int) -> String {
    let body = String(repeating: pump, count: length / pump.count + 1)
    return String(body.prefix(max(0, length - tail.count))) + tail
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// Worst mean time per message (over `repetitions`) of the RE2-backed matcher, one rule per catalogue pattern (the
/// message normalised, then matched), and of RE2 alone on the normalised text.
func re2Worst(length: Int, repetitions: Int) -> (message: Double, pattern: String, engine: Double) {
    let clock = ContinuousClock()
    var worst = (message: 0.0, pattern: "", engine: 0.0)
    for entry in redosCatalogue {
        let matcher = RuleMatcher(rules: [ReplyRule(id: "p", keywords: [entry.pattern], matchType: .regex, reply: "r")])
        let message = adversarial(entry.pump, entry.tail, length: length)
        var hits = 0
        var start = clock.now
        for _ in 0..<repetitions where matcher.match(message) != nil { hits += 1 }
        let perMessage = seconds(clock.now - start) / Double(repetitions)
        if perMessage > worst.message { (worst.message, worst.pattern) = (perMessage, entry.pattern) }
        guard let regex = try? LinearRegex(entry.pattern) else { continue }
        let normalized = TextNormalizer.normalized(message)
        start = clock.now
        for _ in 0..<repetitions where regex.matches(normalized) { hits += 1 }
        worst.engine = max(worst.engine, seconds(clock.now - start) / Double(repetitions))
    }
    return worst
}

/// Swift's backtracking Regex on the normalised text, as rules ran before issue 12: per pattern, texts of 4, 6, …,
/// `length` characters, stopping at the first that takes longer than `budget` seconds. The slowest single message,
/// and how many patterns went over the budget before reaching `length`.
func backtrackingWorst(length: Int, budget: Double) -> (seconds: Double, pattern: String, characters: Int, over: Int) {
    let clock = ContinuousClock()
    var worst = (seconds: 0.0, pattern: "", characters: 0, over: 0)
    for entry in redosCatalogue {
        guard let regex = try? Regex(entry.pattern).ignoresCase() else { continue }
        for characters in stride(from: 4, through: length, by: 2) {
            let text = TextNormalizer.normalized(adversarial(entry.pump, entry.tail, length: characters))
            let start = clock.now
            _ = try? regex.firstMatch(in: text)
            let elapsed = seconds(clock.now - start)
            if elapsed > worst.seconds { (worst.seconds, worst.pattern, worst.characters) = (elapsed, entry.pattern, characters) }
            if elapsed > budget {
                if characters < length { worst.over += 1 }
                break
            }
        }
    }
    return worst
}

func regexBenchmark() {
    print()
    print("regex rules: \(redosCatalogue.count) classic ReDoS patterns on adversarial messages, worst time per message")
    let re2 = re2Worst(length: 1_000, repetitions: 200)
    print("  RE2 (now), 1,000 characters: \(String(format: "%.1f", re2.message * 1e6)) µs per message (\(re2.pattern)),"
        + " of which matching at most \(String(format: "%.1f", re2.engine * 1e6)) µs (the rest is normalising the text)")
    let old = backtrackingWorst(length: 24, budget: 1.0)
    print("  backtracking Regex (before), up to 24 characters: \(String(format: "%.2f", old.seconds)) s on \(old.characters) characters"
        + " (\(old.pattern)); \(old.over) patterns passed 1 s before 24 characters and were stopped there")
}
