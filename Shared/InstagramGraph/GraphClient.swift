import AsyncHTTPClient
import FlowtalkCore
import Foundation
import Logging
import Tracing
import NIOCore
import NIOHTTP1

/// Where the Graph API is and how long to wait for it.
package struct GraphConfiguration: Sendable {
    /// `INSTAGRAM_GRAPH_URL`, e.g. `https://graph.instagram.com` or the sandbox.
    package var baseURL: String
    /// `IG_GRAPH_VERSION`, e.g. `v25.0`.
    package var version: String
    package var timeout: TimeAmount

    package init(baseURL: String = "https://graph.instagram.com", version: String = "v25.0", timeout: TimeAmount = .seconds(20)) {
        self.baseURL = baseURL
        self.version = version
        self.timeout = timeout
    }

    package init(environment: ConfigEnvironment) throws {
        baseURL = try environment.url("INSTAGRAM_GRAPH_URL", default: "https://graph.instagram.com")
        version = environment.optional("IG_GRAPH_VERSION") ?? "v25.0"
        guard version.hasPrefix("v"), Double(version.dropFirst()) != nil else {
            throw ConfigurationError.malformed("IG_GRAPH_VERSION", "expected a version such as v25.0")
        }
        timeout = .seconds(Int64(try environment.int("GRAPH_TIMEOUT_SECONDS", default: 20, range: 1...120)))
    }
}

/// What went wrong with a Graph API call, sorted by what the sender must do (reference §3.5).
package enum GraphError: Error, Equatable, CustomStringConvertible {
    /// Code 190: the token is expired or revoked; the business must reconnect. Not retried.
    case tokenInvalid(subcode: Int?)
    /// Outside the 24-hour window. Not retried.
    case outsideWindow
    /// The person cannot receive messages from the business (blocked, restricted, unavailable). Not retried.
    case recipientUnavailable
    /// Rate limited; retry after the hint if there was one.
    case rateLimited(retryAfterSeconds: Int?)
    /// The request was answered with a failure that did not deliver (5xx, transient flag) or never left: retry.
    case transient(String)
    /// The request may have been delivered but no answer came (timeout, dropped connection): never resend.
    case ambiguous(String)
    /// Any other error code: a bug or a policy problem; not retried.
    case permanent(code: Int, subcode: Int?)
    /// The answer was not what the API documents.
    case malformedResponse

    /// A short machine-readable reason for the activity log.
    package var reason: String {
        switch self {
        case .tokenInvalid: "token_invalid"
        case .outsideWindow: "outside_window"
        case .recipientUnavailable: "recipient_unavailable"
        case .rateLimited: "rate_limited"
        case .transient: "transient_error"
        case .ambiguous: "no_answer"
        case .permanent(let code, _): "graph_error_\(code)"
        case .malformedResponse: "malformed_response"
        }
    }

    package var description: String { reason }

    /// The longest `Retry-After` honoured. A DM's text waits in the queue for as long as the send is put off, and the
    /// reply window is 24 hours: a longer hint is taken as an hour (and retried then), never obeyed for days (issue 13).
    package static let maximumRetryAfterSeconds = 3600

    /// Classifies an error body and HTTP status. A `Retry-After` of whole seconds is kept between 0 and an hour.
    package static func classify(status: Int, body: [UInt8], retryAfter: String?) -> GraphError {
        let hint = retryAfter.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }.map { min(max($0, 0), maximumRetryAfterSeconds) }
        guard let document = try? JSONValue.parse(body), let error = document["error"] else {
            if status == 429 { return .rateLimited(retryAfterSeconds: hint) }
            return status >= 500 ? .transient("HTTP \(status)") : .permanent(code: status, subcode: nil)
        }
        let code = error["code"]?.integerText.flatMap { Int($0) } ?? status
        let subcode = error["error_subcode"]?.integerText.flatMap { Int($0) }
        switch (code, subcode) {
        case (190, _): return .tokenInvalid(subcode: subcode)
        case (10, 2_534_022?), (10, 2_018_278?), (10, 2_018_065?): return .outsideWindow
        case (551, _), (10, 2_018_108?), (200, 1_545_041?), (_, 1_545_041?): return .recipientUnavailable
        case (4, _), (17, _), (32, _), (613, _), (80_002, _), (80_006, _): return .rateLimited(retryAfterSeconds: hint)
        default:
            if status == 429 { return .rateLimited(retryAfterSeconds: hint) }
            if error["is_transient"]?.bool == true || code == 1 || code == 2 || status >= 500 { return .transient("code \(code)") }
            return .permanent(code: code, subcode: subcode)
        }
    }
}

/// Quick replies (under the text) or postback buttons (a button template) sent with a message.
package enum MessageOptions: Sendable, Equatable {
    case quickReplies([MessageOption])
    case buttons([MessageOption])
}

/// One option: what the customer sees and what comes back in the webhook when it is tapped.
package struct MessageOption: Sendable, Equatable {
    package let title: String
    package let payload: String

    package init(title: String, payload: String) {
        self.title = title
        self.payload = payload
    }
}

/// The Instagram Graph API calls Flowtalk makes, over AsyncHTTPClient. Tokens travel in the `Authorization` header,
/// never in a URL, and nothing here logs a token or a message.
package struct GraphClient: Sendable {
    /// Instagram's limit for one text message, in UTF-8 bytes.
    package static let maximumTextBytes = 1_000
    /// A button template's text: 640 characters (640 bytes always fit).
    package static let maximumButtonTextBytes = 640

    package let configuration: GraphConfiguration
    let http: HTTPClient

    package init(configuration: GraphConfiguration, http: HTTPClient = .outbound) {
        self.configuration = configuration
        self.http = http
    }

    /// Sends `text` (split into several messages if it is over the limit) and returns the message ids, in order.
    /// If a later part fails, the ids already sent are in the error's `sentSoFar`.
    package func sendText(from instagramUserID: String, to recipient: String, text: String, token: Secret<String>) async throws -> [String] {
        try await send(from: instagramUserID, to: recipient, texts: [text], options: nil, token: token)
    }

    /// Sends `texts` in order, each split into several messages if it is over the limit, the last one carrying `options`
    /// (quick replies under its text, or a button template with postback buttons); returns the message ids, in order.
    /// If a later message fails, the ids already sent are in the error's `sent`.
    package func send(
        from instagramUserID: String, to recipient: String, texts: [String], options: MessageOptions?, token: Secret<String>
    ) async throws -> [String] {
        let parts = Self.parts(texts, options: options).flatMap { $0 }
        var ids: [String] = []
        for (index, part) in parts.enumerated() {
            let message = Self.message(part, options: index == parts.count - 1 ? options : nil)
            do {
                ids.append(try await sendOne(from: instagramUserID, to: recipient, message: message, token: token))
            } catch let error as GraphError where !ids.isEmpty {
                throw PartialSend(sent: ids, error: error)
            }
        }
        return ids
    }

    /// The messages `send` makes of each text, in order (an empty text makes none): each split at the limit, the last
    /// text's last part again at a button template's 640 characters when it carries buttons.
    package static func parts(_ texts: [String], options: MessageOptions?) -> [[String]] {
        var groups = texts.map { $0.isEmpty ? [] : split($0) }
        if case .buttons = options, let index = groups.lastIndex(where: { !$0.isEmpty }), let last = groups[index].popLast() {
            // A button template's text holds 640 characters at most (640 bytes always fit).
            groups[index] += split(last, limit: maximumButtonTextBytes)
        }
        return groups
    }

    /// Some parts of a long reply were sent, then one failed.
    package struct PartialSend: Error {
        package let sent: [String]
        package let error: GraphError

        package init(sent: [String], error: GraphError) {
            self.sent = sent
            self.error = error
        }
    }

    /// The `message` object of a Send API call: text (with quick replies), or a button template.
    static func message(_ text: String, options: MessageOptions?) -> [UInt8] {
        var out: [UInt8] = []
        func append(_ list: [MessageOption], _ head: String, _ item: (MessageOption) -> String) {
            out.append(contentsOf: head.utf8)
            for (index, option) in list.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: item(option).utf8)
                out.append(contentsOf: #""title":"#.utf8)
                JSONText.appendString(option.title, to: &out)
                out.append(contentsOf: #","payload":"#.utf8)
                JSONText.appendString(option.payload, to: &out)
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "]"))
        }
        switch options {
        case .buttons(let list)?:
            out.append(contentsOf: #"{"attachment":{"type":"template","payload":{"template_type":"button","text":"#.utf8)
            JSONText.appendString(text, to: &out)
            append(list, #","buttons":["#) { _ in #"{"type":"postback","# }
            out.append(contentsOf: "}}}".utf8)
        case .quickReplies(let list)?:
            out.append(contentsOf: #"{"text":"#.utf8)
            JSONText.appendString(text, to: &out)
            append(list, #","quick_replies":["#) { _ in #"{"content_type":"text","# }
            out.append(UInt8(ascii: "}"))
        case nil:
            out.append(contentsOf: #"{"text":"#.utf8)
            JSONText.appendString(text, to: &out)
            out.append(UInt8(ascii: "}"))
        }
        return out
    }

    /// One Send API call in a client span (`instagram.send_message`: no ids, no text).
    private func sendOne(from instagramUserID: String, to recipient: String, message: [UInt8], token: Secret<String>) async throws -> String {
        try await withSpan("instagram.send_message", ofKind: .client) { _ in
            try await sendOneUntraced(from: instagramUserID, to: recipient, message: message, token: token)
        }
    }

    private func sendOneUntraced(from instagramUserID: String, to recipient: String, message: [UInt8], token: Secret<String>) async throws -> String {
        var body: [UInt8] = Array(#"{"recipient":{"id":"#.utf8)
        JSONText.appendString(recipient, to: &body)
        body.append(contentsOf: #"},"message":"#.utf8)
        body.append(contentsOf: message)
        body.append(UInt8(ascii: "}"))
        let payload = try await call(.POST, path: "/\(configuration.version)/\(instagramUserID)/messages", body: body, token: token)
        guard let document = try? JSONValue.parse(payload), let id = document["message_id"]?.string, !id.isEmpty else {
            // Delivered (2xx) but unreadable: it went out, so it must not be sent again.
            throw GraphError.ambiguous("unreadable success")
        }
        return id
    }

    /// Errors before the request could have been sent are safe to retry; after that, the outcome is unknown.
    static func classifyTransport(_ error: any Error) -> GraphError {
        if let error = error as? HTTPClientError, error == .connectTimeout || error == .alreadyShutdown {
            return .transient("connect")
        }
        let name = String(describing: type(of: error))
        if name.contains("NIOConnectionError") || name.contains("ConnectError") { return .transient("connect") }
        return .ambiguous(name)
    }

    /// Splits text into parts of at most `limit` UTF-8 bytes, preferring sentence ends, then spaces, never inside a
    /// character.
    package static func split(_ text: String, limit: Int = maximumTextBytes) -> [String] {
        guard text.utf8.count > limit else { return [text] }
        var parts: [String] = []
        var rest = Substring(text)
        while rest.utf8.count > limit {
            // The longest prefix of whole characters within the limit.
            var end = rest.startIndex
            var bytes = 0
            for index in rest.indices {
                let size = rest[index].utf8.count
                if bytes + size > limit { break }
                bytes += size
                end = rest.index(after: index)
            }
            let window = rest[rest.startIndex..<end]
            var cut = end
            if let sentence = window.lastIndex(where: { ".!?。！？\n".contains($0) }), sentence > window.startIndex {
                cut = window.index(after: sentence)
            } else if let space = window.lastIndex(where: \.isWhitespace), space > window.startIndex {
                cut = space
            }
            let part = rest[rest.startIndex..<cut].trimmingCharacters(in: .whitespacesAndNewlines)
            if !part.isEmpty { parts.append(part) }
            rest = rest[cut...].drop(while: \.isWhitespace)
        }
        let last = rest.trimmingCharacters(in: .whitespacesAndNewlines)
        if !last.isEmpty { parts.append(last) }
        return parts
    }
}
