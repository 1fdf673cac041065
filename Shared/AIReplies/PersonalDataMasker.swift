/// Replaces what could identify a person in a customer's text before it leaves for the AI provider: email addresses
/// (also spelled out, "jane at gmail dot com", or with a full-width ＠), phone numbers and other long digit runs (card or
/// account numbers) in any script's digits and with any common separator (full-width dashes, narrow and ideographic
/// spaces, en dashes), @handles, and web links with or without a scheme ("shop.example.com/order"). Names and street
/// addresses in free text are not recognised: the dashboard and the policy say so.
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
        result = result.replacing(spelledEmailPattern) { _ in email }
        result = result.replacing(linkPattern) { _ in link }
        result = result.replacing(bareLinkPattern) { match in String(match.output.1) + link }
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
    nonisolated(unsafe) private static let emailPattern = #/[\p{L}\p{N}._%+\-]+[@＠][\p{L}\p{N}\-]+(?:[.．。][\p{L}\p{N}\-]+)*[.．。]\p{L}{2,}/#
    // An address spelled out to get past filters: "jane at gmail dot com", "jane [at] gmail [dot] com", "jane(at)gmail.com".
    nonisolated(unsafe) private static let spelledEmailPattern =
        #/(?i)[\p{L}\p{N}._%+\-]+(?:\s*[(\[{]at[)\]}]\s*|\s+at\s+)[\p{L}\p{N}\-]+(?:(?:\s*[(\[{]dot[)\]}]\s*|\s+dot\s+|\.)[\p{L}\p{N}\-]+)*(?:\s*[(\[{]dot[)\]}]\s*|\s+dot\s+|\.)\p{L}{2,}(?![\p{L}\p{N}])/#
    // Matched scalar by scalar, so a combining mark glued to the "." or "/" ("www.́shop.pt") does not hide a link.
    nonisolated(unsafe) private static let linkPattern = #/(?i)(?:https?://|www\.)\S+/#.matchingSemantics(.unicodeScalar)
    // A link without a scheme: a host name ending in a common top-level domain, with an optional path. Only listed
    // domains, so "e.g." or "3.5" stay text; domains that are also words ("it", "me", "to", "in" …) only with a path, so
    // "do it.It works" stays text. A placeholder's bracket next to it counts as part of a word, so what a first pass
    // leaves ("amplo.ca[phone]") a second pass leaves too (found by fuzz-masker).
    nonisolated(unsafe) private static let bareLinkPattern =
        #/(?i)(^|[^\p{L}\p{N}_@.\-\[\]])(?:[\p{L}\p{N}\-]+\.)+(?:(?:com|net|org|info|biz|io|app|dev|shop|store|online|site|link|ly|tv|eu|uk|de|fr|es|pt|nl|ch|br|mx|ar|cl|ru|ua|pl|tr|jp|cn|kr|au|ca|za|ng|vn|th|ph)(?:/\S*)?|(?:co|me|to|at|in|us|be|it|id|ai)/\S*)(?![\p{L}\p{N}\-\[\]])/#
    // A handle: @ at the start or after a character that cannot be part of a name, then Instagram's allowed characters.
    nonisolated(unsafe) private static let handlePattern = #/(^|[^\p{L}\p{N}_.])@[\p{L}\p{N}_.]{1,30}/#
    // A number written with spaces, dots, dashes, slashes or brackets between its digits, optionally with a leading +.
    // The separators include the no-break, narrow no-break, thin, figure and ideographic spaces, the en and em dashes, the
    // Unicode hyphens and their full-width forms; \d is any script's decimal digit (Arabic-Indic, full-width …).
    nonisolated(unsafe) private static let numberPattern =
        #/[+＋]?[(（]?\d(?:[\d \-./()\u{00A0}\u{2007}\u{2009}\u{202F}\u{3000}\u{2010}-\u{2015}\u{2212}\u{FF0D}\u{FF0E}\u{FF0F}（）]{0,30}\d)?/#
    // A date: day or month of one or two digits between separators, e.g. 12.05.2026, 2026-05-12, 5/12/26.
    nonisolated(unsafe) private static let datePattern = #/\d{1,4}[./\-]\d{1,2}[./\-]\d{1,4}/#
}
