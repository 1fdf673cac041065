/// A conservative reading of a regular expression's structure, enough to bound how long matching can take.
///
/// Swift's `Regex` backtracks and cannot be interrupted (not even by task cancellation), so a pattern whose matching
/// time explodes would hold a dispatch worker — or flowtalk-auth's rule tester — for good. Measured (release build):
/// `(a|a)*b` takes 2.8 s on 20 characters and doubles with each one more; `\w*\w*x` takes 3 s on 500 and `\w*\w*\w*x`
/// 25 s on 250. What is refused here is what makes a match try more than a few times (characters)² ways:
/// - a repeated group that contains a repetition (`(a+)+`) or a choice (`(a|aa)+`, `(red|blue){2}`);
/// - more than one repetition (`*`, `+`, `{n,}`, `{n,m}`) in one pattern (another keyword can hold another pattern);
/// - too many ways to try at each position: every choice `(a|b|c)` multiplies them by its branches and every optional
///   part `?` by three (what it costs in time: `a?a?a?\w*x` takes 3 s on 1,000 characters, `\w*x` 0.1 s); at most 8
///   beside a repetition, 256 without one;
/// - constructs that would hide structure from this reading: extended mode `(?x)`, `\Q…\E`, a class opening with `]`.
/// Whatever is not understood counts as a repetition, so the reading errs towards refusing.
struct PatternComplexity {
    static let maximumRepetitions = 1
    static let maximumWaysBesideARepetition = 8
    static let maximumWays = 256

    /// Why `pattern` (already known to compile) is refused, or nil.
    static func problem(_ pattern: String) -> String? {
        var reading = PatternComplexity(scalars: Array(pattern.unicodeScalars))
        return reading.read()
    }

    private enum Quantifier { case optional, exact, repeats }
    private struct Group {
        var quantified = false
        var alternation = false
        var branches = 1
    }

    private let scalars: [Unicode.Scalar]
    private var index = 0
    private var groups = [Group()]
    private var repetitions = 0
    /// Ways to try at one position: branches of every choice times 3 for every optional part (capped, no overflow).
    private var ways = 1

    private init(scalars: [Unicode.Scalar]) { self.scalars = scalars }

    private static let nested = "Nested repetition like (a+)+ is not allowed in patterns."
    private static let repeatedChoice =
        "Repeating a choice like (a|b)+ is not allowed in patterns; use a class like [ab]+ or one keyword per word."

    private func at(_ offset: Int) -> Unicode.Scalar? {
        index + offset < scalars.count ? scalars[index + offset] : nil
    }

    private mutating func read() -> String? {
        while let c = at(0) {
            switch c {
            case "\\":
                guard let escaped = at(1) else { return nil }
                if ("1"..."9").contains(escaped) || escaped == "k" || escaped == "g" { return "Backreferences are not allowed in patterns." }
                if escaped == "Q" { return "Quoting with \\Q…\\E is not allowed in patterns." }
                index += 2
                // \p{…}, \x{…}, \u{…}, \N{…}, \o{…}: the braces belong to the escape.
                if "pPxuNo".unicodeScalars.contains(escaped), at(0) == "{" {
                    while let next = at(0), next != "}" { index += 1 }
                    index += 1
                }
                if let problem = atomQuantifier() { return problem }
            case "[":
                guard skipClass() else { return "Write a “]” inside brackets as “\\]”." }
                if let problem = atomQuantifier() { return problem }
            case "(":
                if let problem = openGroup() { return problem }
            case ")":
                index += 1
                let inner = groups.count > 1 ? groups.removeLast() : Group()
                multiply(inner.branches)
                let quantifier = readQuantifier()
                if let quantifier, quantifier != .optional {
                    if inner.quantified { return Self.nested }
                    if inner.alternation { return Self.repeatedChoice }
                }
                if let quantifier, let problem = count(quantifier) { return problem }
                groups[groups.count - 1].quantified = groups[groups.count - 1].quantified || inner.quantified || quantifier != nil
                groups[groups.count - 1].alternation = groups[groups.count - 1].alternation || inner.alternation
            case "|":
                groups[groups.count - 1].alternation = true
                groups[groups.count - 1].branches += 1
                index += 1
            default:
                index += 1
                if let problem = atomQuantifier() { return problem }
            }
        }
        multiply(groups[0].branches)
        if ways > (repetitions > 0 ? Self.maximumWaysBesideARepetition : Self.maximumWays) {
            return "The pattern has too many choices (a|b) and optional parts (?)"
                + (repetitions > 0 ? " beside its repetition (*, + or {n,m})" : "") + "; split it into several keywords."
        }
        return nil
    }

    private mutating func multiply(_ factor: Int) { ways = min(ways * factor, Self.maximumWays + 1) }

    private mutating func openGroup() -> String? {
        if at(1) == "*" { return "Lookarounds are not allowed in patterns." }  // (*positive_lookahead: …) and other verbs
        if at(1) == "?" {
            if let kind = at(2), "=!<".unicodeScalars.contains(kind) { return "Lookarounds are not allowed in patterns." }
            if at(2) == "#" {  // a comment runs to the first ")"
                while let next = at(0), next != ")" { index += 1 }
                index += 1
                return nil
            }
            // Options such as (?i) or (?i-s:…): extended mode would turn spaces and # into syntax this reading ignores.
            var offset = 2
            var letters = ""
            while let next = at(offset), next.properties.isAlphabetic || "-^{}".unicodeScalars.contains(next) {
                letters.unicodeScalars.append(next)
                offset += 1
            }
            if let end = at(offset), end == ")" || end == ":", letters.contains("x") {
                return "Extended mode (?x) is not allowed in patterns."
            }
        }
        groups.append(Group())
        index += 1
        return nil
    }

    /// A quantifier after a single atom: counted, and the current group now holds a quantifier.
    private mutating func atomQuantifier() -> String? {
        guard let quantifier = readQuantifier() else { return nil }
        groups[groups.count - 1].quantified = true
        return count(quantifier)
    }

    private mutating func count(_ quantifier: Quantifier) -> String? {
        if at(0).map({ "*+?{".unicodeScalars.contains($0) }) == true { return Self.nested }  // a quantifier quantified
        switch quantifier {
        case .optional: multiply(3)
        case .repeats: repetitions += 1
        case .exact: break
        }
        if repetitions > Self.maximumRepetitions {
            return "Use at most one repetition (*, + or {n,m}) in a pattern; put another pattern in another keyword."
        }
        return nil
    }

    /// `?`, `*`, `+`, `{n}`, `{n,}`, `{n,m}`, `{,m}`, with a lazy (`?`) or possessive (`+`) mark; a brace that is not one
    /// of these counts as a repetition.
    private mutating func readQuantifier() -> Quantifier? {
        guard let c = at(0) else { return nil }
        var quantifier: Quantifier
        switch c {
        case "?":
            quantifier = .optional
            index += 1
        case "*", "+":
            quantifier = .repeats
            index += 1
        case "{":
            var offset = 1
            var low = ""
            var high: String?
            while let d = at(offset), ("0"..."9").contains(d) { low.unicodeScalars.append(d); offset += 1 }
            if at(offset) == "," {
                high = ""
                offset += 1
                while let d = at(offset), ("0"..."9").contains(d) { high!.unicodeScalars.append(d); offset += 1 }
            }
            if at(offset) == "}", !low.isEmpty || high?.isEmpty == false {
                index += offset + 1
                if high == nil || high == low { quantifier = .exact }
                else if (low.isEmpty || low == "0") && high == "1" { quantifier = .optional }
                else { quantifier = .repeats }
            } else {
                index += 1
                quantifier = .repeats
            }
        default:
            return nil
        }
        if let mark = at(0), mark == "?" || mark == "+" { index += 1 }
        return quantifier
    }

    /// Moves past a bracketed class (nested classes included); false for one this reading could get wrong.
    private mutating func skipClass() -> Bool {
        var depth = 0
        while let c = at(0) {
            switch c {
            case "\\":
                index += 2
            case "[":
                depth += 1
                index += 1
                if at(0) == "^" { index += 1 }
                if at(0) == "]" { return false }
            case "]":
                depth -= 1
                index += 1
                if depth == 0 { return true }
            default:
                index += 1
            }
        }
        return false
    }
}
