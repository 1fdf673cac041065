// The text normaliser (TextNormalizer) on arbitrary text: every message and every keyword goes through it.
//
// Properties, beyond "no trap":
// - tokens are non-empty and hold no spaces, no combining marks, no upper-case ASCII and no non-ASCII decimal digits;
// - idempotence: the normalised text normalises to the same tokens (when it is within the length bound);
// - the ASCII fast path and the Unicode path agree: appending " é" (which forces the Unicode path) adds one token "e"
//   and changes nothing before it;
// - case does not matter: the text lower-cased gives the same tokens.
import FuzzCheck
import ReplyRules

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = text(data, size)
    let tokens = TextNormalizer.tokens(input)
    for token in tokens {
        check(!token.isEmpty, "empty token")
        for scalar in token.unicodeScalars {
            let category = scalar.properties.generalCategory
            check(!scalar.properties.isWhitespace && category != .spaceSeparator, "space inside token \(show(token))")
            check(![.nonspacingMark, .spacingMark, .enclosingMark].contains(category), "combining mark kept in \(show(token))")
            check(!("A"..."Z").contains(scalar), "upper case kept in \(show(token))")
            check(category != .decimalNumber || scalar.isASCII, "digit not mapped to ASCII in \(show(token))")
        }
    }
    let normalized = tokens.joined(separator: " ")
    check(TextNormalizer.normalized(input) == normalized, "normalized is not the tokens joined")
    if normalized.utf8.count <= TextNormalizer.maximumCharacters {
        let again = TextNormalizer.tokens(normalized)
        check(again == tokens, "not idempotent: \(show(tokens)) then \(show(again))")
    }
    if input.utf8.count + 3 <= TextNormalizer.maximumCharacters {
        let slow = TextNormalizer.tokens(input + " é")
        check(slow == tokens + ["e"], "fast and Unicode paths disagree: \(show(tokens)) vs \(show(slow))")
        let lower = TextNormalizer.tokens(input.lowercased())
        check(lower == tokens, "case changes tokens: \(show(tokens)) vs lower-cased \(show(lower))")
    }
    return 0
}
