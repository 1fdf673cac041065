import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// How the sandbox writes JSON: Codable bodies through a `JSONEncoder` with sorted keys (so answers are stable and
/// tests can compare them) and unescaped slashes (as Meta and Groq write them).
enum SandboxJSON {
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    /// `value` as a JSON answer.
    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: try encode(value))))
    }

    /// Decodes a request body the sandbox needs to look at without failing the route (`nil` when it does not fit).
    static func decode<T: Decodable>(_ type: T.Type, from bytes: ByteBuffer) -> T? {
        try? JSONDecoder().decode(type, from: Data(bytes.readableBytesView))
    }
}

/// `{"success":true}`, Graph's answer to an edge update.
struct GraphSuccess: Encodable {
    var success = true
}

/// `{"result":"success"}`, the Messenger Profile API's answer.
struct GraphResult: Encodable {
    var result = "success"
}

/// Graph's error envelope: `{"error":{"message","type","code","error_subcode"?,"is_transient"?,"fbtrace_id"}}`.
struct GraphErrorBody: Codable {
    struct Detail: Codable {
        let message: String
        let type: String
        let code: Int
        let error_subcode: Int?
        let is_transient: Bool?
        let fbtrace_id: String
    }
    let error: Detail

    /// A Graph error answer. `type` is `OAuthException` on the send API and `IGApiException` on the account edges,
    /// as the sandbox has always answered.
    static func response(
        _ status: Int, code: Int, subcode: Int? = nil, _ message: String, type: String = "OAuthException", transient: Bool = false
    ) -> Response {
        let body = GraphErrorBody(
            error: Detail(message: message, type: type, code: code, error_subcode: subcode, is_transient: transient ? true : nil, fbtrace_id: "SandboxTrace"))
        // Encoding strings and integers cannot fail; a 500 would still be an honest answer if it did.
        return (try? SandboxJSON.response(body, status: HTTPResponse.Status(code: status))) ?? Response(status: .internalServerError)
    }
}

/// An integer id that Meta sends as a JSON number (`user_id`); written as a string if it is not one.
struct NumericID: Encodable {
    let text: String

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let number = Int64(text) { try container.encode(number) } else { try container.encode(text) }
    }
}

extension Request {
    /// The token of an `Authorization: Bearer …` header, if there is one.
    var bearerToken: String? {
        headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
    }
}

/// Fields of a form or query string (`a=1&b=2`), percent-decoded; the first of a repeated name wins.
func formFields(_ text: String) -> [String: String] {
    Dictionary(
        text.split(separator: "&").compactMap { pair -> (String, String)? in
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            return parts.count == 2 ? (parts[0], parts[1]) : nil
        }, uniquingKeysWith: { first, _ in first })
}
