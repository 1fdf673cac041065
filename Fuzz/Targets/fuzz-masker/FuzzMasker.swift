// The personal-data masker (PersonalDataMasker.mask): every customer text passes through it before it goes to Groq.
//
// Properties, beyond "no trap", checked on the masked text with independent, Unicode-scalar-level scans (so a
// combining mark or a joiner glued to an address cannot hide it):
// - no email address (ASCII local part @ ASCII domain with a dot and a two-letter end) is left;
// - no web link start (`http://`, `https://`, `www.`, any case) is left;
// - no run of nine or more ASCII digits is left (phone, card, account numbers);
// - masking is idempotent: the masked text masks to itself.
import AIReplies
import FuzzCheck

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = text(data, size)
    let masked = PersonalDataMasker.mask(input)
    let scalars = Array(masked.unicodeScalars)
    check(!containsEmail(scalars), "an email address survived: \(show(input)) → \(show(masked))")
    check(!containsLink(scalars), "a link survived: \(show(input)) → \(show(masked))")
    check(longestDigitRun(scalars) < 9, "a long number survived: \(show(input)) → \(show(masked))")
    let twice = PersonalDataMasker.mask(masked)
    check(twice == masked, "not idempotent: \(show(masked)) → \(show(twice))")
    return 0
}

func isASCIILetter(_ s: Unicode.Scalar) -> Bool { ("a"..."z").contains(s) || ("A"..."Z").contains(s) }
func isASCIIDigit(_ s: Unicode.Scalar) -> Bool { ("0"..."9").contains(s) }
func isLocal(_ s: Unicode.Scalar) -> Bool { isASCIILetter(s) || isASCIIDigit(s) || "._%+-".unicodeScalars.contains(s) }
func isDomain(_ s: Unicode.Scalar) -> Bool { isASCIILetter(s) || isASCIIDigit(s) || s == "-" }

/// `local@label(.label)*.ll` with ASCII characters only.
func containsEmail(_ scalars: [Unicode.Scalar]) -> Bool {
    for (at, scalar) in scalars.enumerated() where scalar == "@" {
        guard at > 0, isLocal(scalars[at - 1]) else { continue }
        // Labels after the @: the last one (after at least one dot) must start with two ASCII letters.
        var index = at + 1
        var labels = 0
        while index < scalars.count {
            let start = index
            while index < scalars.count, isDomain(scalars[index]) { index += 1 }
            guard index > start else { break }
            if labels > 0, index - start >= 2, isASCIILetter(scalars[start]), isASCIILetter(scalars[start + 1]) { return true }
            labels += 1
            guard index < scalars.count, scalars[index] == "." else { break }
            index += 1
        }
    }
    return false
}

func containsLink(_ scalars: [Unicode.Scalar]) -> Bool {
    let lower = scalars.map { ("A"..."Z").contains($0) ? Unicode.Scalar($0.value + 32)! : $0 }
    for start in lower.indices {
        for needle in ["http://", "https://", "www."] {
            let pattern = Array(needle.unicodeScalars)
            if lower[start...].starts(with: pattern) {
                // A link needs something after its start to point anywhere.
                let next = start + pattern.count
                if next < lower.count, !lower[next].properties.isWhitespace { return true }
            }
        }
    }
    return false
}

func longestDigitRun(_ scalars: [Unicode.Scalar]) -> Int {
    var longest = 0
    var run = 0
    for scalar in scalars {
        run = isASCIIDigit(scalar) ? run + 1 : 0
        longest = max(longest, run)
    }
    return longest
}
