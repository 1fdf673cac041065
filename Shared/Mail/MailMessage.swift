import Foundation

/// An email address, optionally with a display name (`Shop <no-reply@shop.com>`). Only plain ASCII addresses
/// (`local@domain`, no spaces, quotes, angle brackets or control characters) are accepted, so an address can never
/// carry a second header or a second SMTP command.
package struct MailAddress: Sendable, Equatable {
    package let address: String
    package let displayName: String?

    /// Accepts `local@domain` or `Name <local@domain>`; throws `SMTPError.invalidAddress` otherwise.
    package init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasSuffix(">"), let open = trimmed.lastIndex(of: "<") {
            let name = trimmed[..<open].trimmingCharacters(in: .whitespaces)
            let unquoted = name.count >= 2 && name.hasPrefix("\"") && name.hasSuffix("\"") ? String(name.dropFirst().dropLast()) : name
            guard !unquoted.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || $0 == "\"" || $0 == "\\" }) else {
                throw SMTPError.invalidAddress
            }
            try self.init(address: String(trimmed[trimmed.index(after: open)..<trimmed.index(before: trimmed.endIndex)]), displayName: unquoted.isEmpty ? nil : unquoted)
        } else {
            try self.init(address: trimmed, displayName: nil)
        }
    }

    package init(address: String, displayName: String? = nil) throws {
        guard Self.isValid(address) else { throw SMTPError.invalidAddress }
        self.address = address
        self.displayName = displayName
    }

    /// The part after `@`.
    package var domain: String { String(address.split(separator: "@").last ?? "") }

    static func isValid(_ address: String) -> Bool {
        let forbidden = Set("<>()[],;:\\\"@ ".unicodeScalars)
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard address.utf8.count <= 254, parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, parts[0].utf8.count <= 64 else { return false }
        return parts.allSatisfy { part in
            part.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 0x20 && $0.value < 0x7F && !forbidden.contains($0) }
        } && !parts[1].hasPrefix(".") && !parts[1].hasSuffix(".") && !parts[1].contains("..")
    }

    /// The header form: `"Name" <address>`, the name RFC 2047-encoded when it is not plain ASCII.
    var header: String {
        guard let displayName else { return "<\(address)>" }
        if displayName.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F }) { return "\"\(displayName)\" <\(address)>" }
        return "\(MIMEWords.encode(displayName, firstLineUsed: 6)) <\(address)>"
    }
}

/// One plain-text email as it goes on the wire: RFC 5322 headers, a UTF-8 body in quoted-printable, CRLF line endings.
package struct MailMessage: Sendable {
    package let from: MailAddress
    package let to: MailAddress
    package let subject: String
    package let text: String
    package let date: Date
    package let messageID: String

    /// Throws `SMTPError.invalidHeader` when the subject holds a line break or another control character.
    package init(from: MailAddress, to: MailAddress, subject: String, text: String, date: Date = Date(), messageID: String? = nil) throws {
        guard !subject.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { throw SMTPError.invalidHeader }
        self.from = from
        self.to = to
        self.subject = subject
        self.text = text
        self.date = date
        self.messageID = messageID ?? "<\(UUID().uuidString.lowercased())@\(from.domain)>"
    }

    /// The message's lines (headers, a blank line, the body), each without its CRLF.
    package var lines: [String] {
        var lines = [
            "From: \(from.header)",
            "To: <\(to.address)>",
            "Subject: \(Self.subjectHeader(subject))",
            "Date: \(Self.rfc5322Date(date))",
            "Message-ID: \(messageID)",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable",
            "",
        ]
        lines += QuotedPrintable.encode(text)
        return lines
    }

    static func subjectHeader(_ subject: String) -> String {
        let plain = subject.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F }
        // Plain ASCII that fits on one header line stays readable; anything else becomes encoded words.
        if plain && subject.utf8.count <= 900 && !subject.contains("=?") { return subject }
        return MIMEWords.encode(subject, firstLineUsed: 9)
    }

    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}

/// RFC 2047 `=?UTF-8?B?…?=` encoded words, folded onto continuation lines, never splitting a character.
enum MIMEWords {
    /// `firstLineUsed`: the characters before the first word on its line (`Subject: ` is 9).
    static func encode(_ text: String, firstLineUsed: Int) -> String {
        var words: [String] = []
        var chunk: [UInt8] = []
        // A line holds at most 76 characters: the 12 of `=?UTF-8?B?` and `?=`, and base64 of whole 3-byte groups.
        func capacity(used: Int) -> Int { (76 - used - 12) / 4 * 3 }
        for character in text {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > capacity(used: words.isEmpty ? firstLineUsed : 1), !chunk.isEmpty {
                words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty || words.isEmpty { words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=") }
        return words.joined(separator: "\r\n ")
    }
}

/// Quoted-printable (RFC 2045 §6.7) for a UTF-8 text body: lines of at most 76 characters, soft breaks in between.
enum QuotedPrintable {
    /// The encoded lines of `text` (any of CRLF, LF or CR ends a line).
    static func encode(_ text: String) -> [String] {
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        var output: [String] = []
        for line in normalized.split(separator: "\n", omittingEmptySubsequences: false) {
            let bytes = Array(line.utf8)
            var current = ""
            for (index, byte) in bytes.enumerated() {
                let last = index == bytes.count - 1
                let token: String
                switch byte {
                case 0x21...0x3C, 0x3E...0x7E: token = String(UnicodeScalar(byte))
                case 0x20 where !last, 0x09 where !last: token = String(UnicodeScalar(byte))
                default: token = "=" + String(format: "%02X", byte)
                }
                if current.utf8.count + token.utf8.count > 75 {
                    output.append(current + "=")
                    current = ""
                }
                current += token
            }
            output.append(current)
        }
        return output
    }
}
