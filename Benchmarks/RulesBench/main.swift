// Keyword-matching time per message for 10, 100 and 1,000 rules (issue #3), then regex rules on ReDoS patterns
// (issue 12, RegexBench.swift). Run with `make bench`
// (release build). Prints the figures; asserts nothing.
import Foundation
import ReplyRules

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

var random = SplitMix(state: 2026)
let syllables = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "po", "du", "fe"]
let vocabulary = (0..<3_000).map { _ in (0..<3).map { _ in syllables.randomElement(using: &random)! }.joined() }
    + ["price", "shipping", "hours", "refund", "السعر", "цена", "价格", "❤️"]
@MainActor func words(_ n: Int) -> String { (0..<n).map { _ in vocabulary.randomElement(using: &random)! }.joined(separator: " ") }

let messages = (0..<20_000).map { _ in
    ["Hi! ", "Hello, ", "", "Bonjour "].randomElement(using: &random)! + words(Int.random(in: 4...20, using: &random)) + "?"
}

print("rules   build (ms)   match per message (µs, mean over \(messages.count) messages of 4–20 words)   matched")
for count in [10, 100, 1_000] {
    let types: [MatchType] = [.contains, .contains, .contains, .exact, .startsWith, .anyWord]
    let rules = (0..<count).map { index in
        ReplyRule(
            id: "rule-\(index)", keywords: (0..<Int.random(in: 1...4, using: &random)).map { _ in words(Int.random(in: 1...2, using: &random)) },
            matchType: types.randomElement(using: &random)!, negativeKeywords: Bool.random(using: &random) ? [words(1)] : [],
            priority: Int.random(in: 0...3, using: &random), reply: "Reply \(index)", createdAt: Date(timeIntervalSince1970: Double(index)))
    }
    let clock = ContinuousClock()
    let buildStart = clock.now
    let matcher = RuleMatcher(rules: rules)
    let build = clock.now - buildStart
    var matched = 0
    // Warm up, then measure.
    for message in messages.prefix(1_000) where matcher.match(message) != nil { matched += 0 }
    let start = clock.now
    for message in messages where matcher.match(message) != nil { matched += 1 }
    let elapsed = clock.now - start
    let perMessage = Double(elapsed.components.attoseconds) / 1e12 / Double(messages.count) + Double(elapsed.components.seconds) * 1e6 / Double(messages.count)
    let buildMs = Double(build.components.seconds) * 1000 + Double(build.components.attoseconds) / 1e15
    print(String(format: "%5d   %10.2f   %10.2f   %16d", count, buildMs, perMessage, matched))
}
regexBenchmark()
