import Foundation

/// Turns text into the tokens rules match on, the same way for a customer's message and for a rule's keywords:
/// compatibility forms unfolded (ﬁ → fi, ＡＢＣ → abc), case folded, accents and other combining marks removed,
/// decimal digits of any script mapped to ASCII (٣ → 3), emoji kept as tokens of their own, punctuation and spaces
/// as boundaries. Scripts written without spaces (Han, kana, Thai, Lao, Khmer, Myanmar) give one token per character,
/// so a keyword in them still matches as a run of characters.
package enum TextNormalizer {
    /// Text longer than this is cut before matching (a DM is at most 1,000 bytes; this bounds work on odd input).
    package static let maximumCharacters = 4_000

    package static func tokens(_ text: String) -> [String] {
        var tokens: [String] = []
        var word = String.UnicodeScalarView()
        func flush() {
            if !word.isEmpty {
                tokens.append(String(word))
                word = String.UnicodeScalarView()
            }
        }
        let bounded = text.utf8.count > maximumCharacters ? String(text.prefix(maximumCharacters)) : text
        // Most messages are ASCII: nothing to decompose, so skip Foundation's normalisation (most of the cost).
        let scalars = bounded.utf8.allSatisfy({ $0 < 0x80 }) ? bounded.unicodeScalars : bounded.decomposedStringWithCompatibilityMapping.unicodeScalars
        for scalar in scalars {
            let properties = scalar.properties
            switch properties.generalCategory {
            case .nonspacingMark, .spacingMark, .enclosingMark:
                continue  // accents and other combining marks
            case .decimalNumber:
                if let value = properties.numericValue, let ascii = Unicode.Scalar(0x30 + UInt32(value)) {
                    word.append(ascii)
                }
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .letterNumber, .otherNumber:
                if isUnspacedScript(scalar) {
                    flush()
                    word.append(scalar)
                    flush()
                } else {
                    appendFolded(scalar, to: &word)
                }
            default:
                if isEmoji(scalar) {
                    flush()
                    word.append(scalar)
                    flush()
                } else {
                    flush()  // punctuation, spaces, symbols, joiners: boundaries
                }
            }
        }
        flush()
        return tokens
    }

    /// The tokens joined by single spaces: what regex rules see.
    package static func normalized(_ text: String) -> String { tokens(text).joined(separator: " ") }

    private static func appendFolded(_ scalar: Unicode.Scalar, to word: inout String.UnicodeScalarView) {
        if scalar.value < 0x80 {
            let value = scalar.value
            word.append((0x41...0x5A).contains(value) ? Unicode.Scalar(value + 0x20)! : scalar)
            return
        }
        switch scalar.value {
        case 0x00DF, 0x1E9E: word.append(contentsOf: "ss".unicodeScalars)  // ß, ẞ
        case 0x03C2: word.append(Unicode.Scalar(0x03C3)!)  // final sigma
        default:
            for folded in scalar.properties.lowercaseMapping.unicodeScalars {
                switch folded.properties.generalCategory {
                case .nonspacingMark, .spacingMark, .enclosingMark: continue
                default: word.append(folded)
                }
            }
        }
    }

    private static func isEmoji(_ scalar: Unicode.Scalar) -> Bool {
        let properties = scalar.properties
        guard scalar.value > 0x7F, properties.isEmoji else { return false }
        // Skin-tone modifiers only shade the emoji before them.
        return !properties.isEmojiModifier
    }

    private static func isUnspacedScript(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.properties.isIdeographic { return true }
        switch scalar.value {
        case 0x3040...0x30FF, 0x31F0...0x31FF, 0xFF66...0xFF9F: return true  // hiragana, katakana
        case 0x0E00...0x0EFF: return true  // Thai, Lao
        case 0x1780...0x17FF, 0x1000...0x109F: return true  // Khmer, Myanmar
        default: return false
        }
    }
}
