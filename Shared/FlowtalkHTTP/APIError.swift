import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The one error shape every route returns: `{"error": {"code": "...", "message": "..."}}`.
package struct APIError: Error, HTTPResponseError, Sendable {
    package var status: HTTPResponse.Status
    package var code: String
    package var message: String
    package var headers: HTTPFields
    /// The request field the error is about (`"reply"`, `"items.2.question"`), so a form can show it next to that field.
    package var field: String?

    package init(_ status: HTTPResponse.Status, code: String, message: String, headers: HTTPFields = [:], field: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
        self.field = field
    }

    /// A 400 about one field of the request.
    package static func invalid(_ field: String, _ message: String, code: String) -> APIError {
        .init(.badRequest, code: code, message: message, field: field)
    }

    package static func badRequest(_ message: String, code: String = "bad_request") -> APIError { .init(.badRequest, code: code, message: message) }
    package static func unauthorized(_ message: String = "Authentication required.", code: String = "unauthorized") -> APIError {
        .init(.unauthorized, code: code, message: message)
    }
    package static func forbidden(_ message: String = "Forbidden.", code: String = "forbidden") -> APIError { .init(.forbidden, code: code, message: message) }
    package static let notFound = APIError(.notFound, code: "not_found", message: "Not found.")
    package static func conflict(_ message: String) -> APIError { .init(.conflict, code: "conflict", message: message) }
    package static let unavailable = APIError(.serviceUnavailable, code: "unavailable", message: "Temporarily unavailable; try again.")

    private struct Body: Encodable {
        struct Inner: Encodable {
            let code: String
            let message: String
            let field: String?
        }
        let error: Inner
    }

    package func response(from request: Request, context: some RequestContext) throws -> Response {
        // Sorted keys: the same error is the same bytes every time (a sign-in failure must not differ by key order).
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(Body(error: .init(code: code, message: message, field: field)))
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// A generic code for a status, for errors that carry only a status.
package func errorCode(for status: HTTPResponse.Status) -> String {
    switch status.code {
    case 400: "bad_request"
    case 401: "unauthorized"
    case 403: "forbidden"
    case 404: "not_found"
    case 405: "method_not_allowed"
    case 409: "conflict"
    case 413: "payload_too_large"
    case 415: "unsupported_media_type"
    case 429: "rate_limited"
    case 503: "unavailable"
    default: status.code >= 500 ? "internal" : "error"
    }
}
