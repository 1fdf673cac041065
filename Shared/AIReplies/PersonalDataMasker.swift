/// Replaces what could identify a person in a customer's text before it leaves for the AI provider: email addresses,
/// phone numbers (and other long digit runs such as card or account numbers), @handles and web links.
///
/// The privacy policy promises that only the message text goes to Groq, with nothing that identifies the customer.
/// Masking keeps the sense of the message ("my email is [email]") so the model can still answer it.
package enum PersonalDataMasker {
    package static let email = "[email]"
    package static let phone = "[phone]"
    package static let handle = "[handle]"
    package static let link = "[link]"

    /// The text with every email, phone number, long digit run, handle and link replaced by a placeholder.
    package static func mask(_ text: String) -> String {
        var result = text.replacing(emailPattern) { _ in email }
        result = result.replacing(linkPattern) { _ in link }
        result = result.replacing(numberPattern) { match in
            let number = String(match.output)
            // Seven or more digits in one number: a phone, card, IBAN tail or account number. Shorter runs (prices,
            // sizes, quantities) and dates are kept: they identify nobody and the model needs them.
            let digits = number.filter(\.isNumber).count
            if digits < 7 || (digits <= 8 && number.wholeMatch(of: datePattern) != nil) { return number }
            return phone
        }
        // Handles last: a placeholder's "]" is a boundary a handle may follow ("0912345678@maria" → "[phone][handle]"),
        // so masking them earlier would leave one that a second pass would find. For the same reason a handle right
        // after another ("@maria@joao") is only seen once the first is masked: repeat until none is left (each pass that
        // changes something removes an "@", so this ends).
        while true {
            let next = result.replacing(handlePattern) { match in String(match.output.1) + handle }
            if next == result { return result }
            result = next
        }
    }

    // Letters of any script may appear in an address's local part and domain.
    nonisolated(unsafe) private static let emailPattern = #/[\p{L}\p{N}._%+\-]+@[\p{L}\p{N}\-]+(?:\.[\p{L}\p{N}\-]+)*\.\p{L}{2,}/#
    // Matched scalar by scalar, so a combining mark glued to the "." or "/" ("www.́shop.pt") does not hide a link.
    nonisolated(unsafe) private static let linkPattern = #/(?i)(?:https?://|www\.)\S+/#.matchingSemantics(.unicodeScalar)
    // A handle: @ at the start or after a character that cannot be part of a name, then Instagram's allowed characters.
    nonisolated(unsafe) private static let handlePattern = #/(^|[^\p{L}\p{N}_.])@[\p{L}\p{N}_.]{1,30}/#
    // A number written with spaces, dots, dashes, slashes or brackets between its digits, optionally with a leading +.
    nonisolated(unsafe) private static let numberPattern = #/\+?\(?\d(?:[\d \-./()\u{00A0}]{0,30}\d)?/#
    // A date: day or month of one or two digits between separators, e.g. 12.05.2026, 2026-05-12, 5/12/26.
    nonisolated(unsafe) private static let datePattern = #/\d{1,4}[./\-]\d{1,2}[./\-]\d{1,4}/#
}
