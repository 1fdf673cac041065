import FlowtalkStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO

/// Gives every error the API shape. Hummingbird's own errors keep their status; a unique violation becomes 409;
/// anything else is a 500, logged once at `error` with its type only (never its text, which may hold SQL or data).
package struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    package init() {}

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            var response = try await next(request, context)
            applySecurityHeaders(&response.headers)
            return response
        } catch {
            var response = try Self.translate(error, context: context).response(from: request, context: context)
            applySecurityHeaders(&response.headers)
            return response
        }
    }

    package static func translate(_ error: any Error, context: Context) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as HTTPError:
            // Hummingbird's own errors (an unknown route) carry an empty body: the status's words instead, never "".
            let reason = HTTPResponse.Status(code: error.status.code).reasonPhrase
            let message = [error.body ?? "", reason].first { !$0.isEmpty } ?? "The request failed (HTTP \(error.status.code))."
            return APIError(error.status, code: errorCode(for: error.status), message: message, headers: error.headers)
        case let error as any HTTPResponseError:
            return APIError(error.status, code: errorCode(for: error.status), message: error.status.reasonPhrase)
        case let error as PostgresTransactionError where (error.closureError ?? error.commitError) != nil:
            return translate((error.closureError ?? error.commitError)!, context: context)
        case let error where isDatabaseUnavailable(error):
            context.logger.warning("Database unavailable", metadata: ["error.type": "\(type(of: error))"])
            return .unavailable
        case let error as PSQLError where error.serverInfo?[.sqlState] == "23505":
            return .conflict("That already exists.")
        default:
            let sqlState = (error as? PSQLError)?.serverInfo?[.sqlState] ?? "-"
            context.logger.error("Unhandled error", metadata: ["error.type": "\(type(of: error))", "db.sqlstate": "\(sqlState)"])
            return APIError(.internalServerError, code: "internal", message: "Something went wrong on our side.")
        }
    }
}

/// Headers every response carries (reference §1.10); HSTS is added by `TransportSecurityMiddleware`, on HTTPS
/// responses only. A response that sets its own Content-Security-Policy (the
/// dashboard's pages) keeps it; everything else gets the strictest one, since it loads nothing.
package func applySecurityHeaders(_ headers: inout HTTPFields) {
    headers[.xContentTypeOptions] = "nosniff"
    headers[.referrerPolicy] = "no-referrer"
    headers[.xFrameOptions] = "DENY"
    if headers[.contentSecurityPolicy] == nil { headers[.contentSecurityPolicy] = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'" }
    if headers[.cacheControl] == nil { headers[.cacheControl] = "no-store" }
}

extension HTTPField.Name {
    static let xContentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let xFrameOptions = HTTPField.Name("X-Frame-Options")!
    static let strictTransportSecurity = HTTPField.Name("Strict-Transport-Security")!
    static let contentSecurityPolicy = HTTPField.Name("Content-Security-Policy")!
}
