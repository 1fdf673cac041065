import Foundation
import Synchronization

/// A mail the SMTP catcher received, as `GET /sandbox/mail` shows it: the envelope, the decoded subject and text.
struct CaughtMail: Codable, Sendable, Equatable {
    var from: String
    var to: [String]
    var subject: String
    var text: String
    /// Whether the client authenticated (AUTH PLAIN or LOGIN; the password is never kept).
    var authenticated: Bool
    var receivedAt: String

    enum CodingKeys: String, CodingKey {
        case from, to, subject, text, authenticated
        case receivedAt = "received_at"
    }
}

/// The catcher's memory: the last `limit` mails (oldest first), the reply codes to answer the next recipients with
/// (`POST /sandbox/mail/faults`), and the port it listens on once bound.
final class Mailbox: Sendable {
    private struct State {
        var mails: [CaughtMail] = []
        var faults: [Int] = []
        var port: Int?
    }
    private let state = Mutex(State())
    let limit: Int

    init(limit: Int = 200) { self.limit = limit }

    func add(_ mail: CaughtMail) {
        state.withLock {
            $0.mails.append(mail)
            if $0.mails.count > limit { $0.mails.removeFirst($0.mails.count - limit) }
        }
    }

    /// Mails oldest first; with `to`, only those with that recipient (case-insensitive).
    func mails(to recipient: String? = nil) -> [CaughtMail] {
        let all = state.withLock { $0.mails }
        guard let recipient = recipient?.lowercased() else { return all }
        return all.filter { $0.to.contains { $0.lowercased() == recipient } }
    }

    func clear() -> Int {
        state.withLock { state in
            defer { state.mails = [] }
            return state.mails.count
        }
    }

    /// Each code answers one `RCPT TO`, in order.
    func addFaults(_ codes: [Int]) { state.withLock { $0.faults += codes } }

    /// The reply code for the next recipient, if a fault is waiting.
    func takeFault() -> Int? {
        state.withLock { $0.faults.isEmpty ? nil : $0.faults.removeFirst() }
    }

    func bound(to port: Int) { state.withLock { $0.port = port } }

    /// The port the catcher listens on, once it does (tests start it on port 0).
    func port() async throws -> Int {
        for _ in 0..<1_000 {
            if let port = state.withLock({ $0.port }) { return port }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw CatcherNotListening()
    }

    struct CatcherNotListening: Error {}
}

/// Reads a received message: unfolds the headers, decodes the RFC 2047 subject and the quoted-printable or base64 body.
enum MailParser {
    /// `lines` are the DATA lines, already un-dot-stuffed, without CRLF.
    static func parse(lines: [String]) -> (subject: String, text: String) {
        let blank = lines.firstIndex(of: "") ?? lines.count
        var headers: [(String, String)] = []
        for line in lines[..<blank] {
            if let first = line.first, first == " " || first == "\t", !headers.isEmpty {
                headers[headers.count - 1].1 += line
            } else if let colon = line.firstIndex(of: ":") {
                headers.append((line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
        }
        func header(_ name: String) -> String? { headers.first { $0.0 == name }?.1 }
        let body = Array(lines[min(blank + 1, lines.count)...])
        let text: String
        switch header("content-transfer-encoding")?.lowercased() {
        case "quoted-printable": text = decodeQuotedPrintable(body)
        case "base64": text = String(decoding: Data(base64Encoded: body.joined(), options: .ignoreUnknownCharacters) ?? Data(), as: UTF8.self)
        default: text = body.joined(separator: "\n")
        }
        return (decodeWords(header("subject") ?? ""), text)
    }

    static func decodeQuotedPrintable(_ lines: [String]) -> String {
        var bytes: [UInt8] = []
        for (index, line) in lines.enumerated() {
            var utf8 = Array(line.utf8)
            let soft = utf8.last == UInt8(ascii: "=")
            if soft { utf8.removeLast() }
            var i = 0
            while i < utf8.count {
                if utf8[i] == UInt8(ascii: "="), i + 2 < utf8.count, let byte = UInt8(String(decoding: utf8[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) {
                    bytes.append(byte)
                    i += 3
                } else {
                    bytes.append(utf8[i])
                    i += 1
                }
            }
            if !soft && index < lines.count - 1 { bytes.append(UInt8(ascii: "\n")) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Decodes `=?charset?B|Q?…?=` words (UTF-8 and ASCII); the whitespace between two encoded words goes.
    static func decodeWords(_ value: String) -> String {
        let pattern = #/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/#
        var result = ""
        var rest = Substring(value)
        var lastWasWord = false
        while let match = rest.firstMatch(of: pattern) {
            let between = rest[..<match.range.lowerBound]
            if !(lastWasWord && between.allSatisfy(\.isWhitespace)) { result += between }
            let payload = String(match.3)
            if match.2.lowercased() == "b" {
                result += String(decoding: Data(base64Encoded: payload) ?? Data(), as: UTF8.self)
            } else {
                result += decodeQuotedPrintable([payload.replacingOccurrences(of: "_", with: " ")])
            }
            lastWasWord = true
            rest = rest[match.range.upperBound...]
        }
        return result + rest
    }
}
