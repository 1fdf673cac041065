import FlowtalkCore
import FlowtalkStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The signed-in account of a request.
package struct SessionInfo: Sendable {
    package let accountID: UUID
    /// The cookie's token (to end this session at logout); never logged.
    package let token: String
}

/// A request context that knows the socket peer's address (for trusted proxies and rate limits).
package protocol PeerRequestContext: RequestContext {
    /// The socket peer's IP address.
    var peerAddress: String? { get }
}

/// A request context that carries the session and the peer's address.
package protocol SessionRequestContext: PeerRequestContext {
    var session: SessionInfo? { get set }
}

/// The request context of the services that serve signed-in pages (auth, analytics).
package struct SignedInRequestContext: SessionRequestContext {
    package var coreContext: CoreRequestContextStorage
    package var session: SessionInfo?
    package let peerAddress: String?

    package init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerAddress = source.channel.peerIP
    }

    /// JSON bodies, with U+0000 refused (400 `invalid_text`).
    package var requestDecoder: StrictJSONDecoder { StrictJSONDecoder() }
}

extension SessionRequestContext {
    /// The session, or 401.
    package func requireSession() throws -> SessionInfo {
        guard let session else { throw APIError.unauthorized("Please sign in.") }
        return session
    }
}

/// The session cookie (DESIGN §3): `__Host-ft_session` outside development — the prefix makes browsers refuse it
/// unless it is Secure, host-only (no Domain) and Path=/, so a sibling subdomain or a plain-http page cannot plant or
/// shadow it — and `ft_session` in development, where plain-http localhost cannot hold a `__Host-` cookie.
package struct SessionCookies: Sendable, Equatable {
    /// The cookie's name.
    package let name: String
    /// The Secure attribute; always true outside development.
    package let secure: Bool

    /// Outside development the cookie is always Secure, whatever `secure` says (configuration refuses the contrary).
    package init(mode: DeploymentMode, secure: Bool = true) {
        name = mode.isDevelopment ? "ft_session" : "__Host-ft_session"
        self.secure = mode.isDevelopment ? secure : true
    }

    /// The session cookie: HttpOnly, SameSite=Lax, Path=/, no Domain.
    package func cookie(token: String, maxAge: Int = 12 * 3600) -> Cookie {
        Cookie(name: name, value: token, maxAge: maxAge, path: "/", secure: secure, httpOnly: true, sameSite: .lax)
    }

    /// A cookie that removes the session cookie.
    package func expired() -> Cookie {
        Cookie(name: name, value: "", maxAge: 0, path: "/", secure: secure, httpOnly: true, sameSite: .lax)
    }
}

/// Reads the session cookie and, if it names a live session, puts it on the context. Any service serving `/api` uses
/// it, so analytics accepts the same cookie as auth.
package struct SessionMiddleware<Context: SessionRequestContext>: RouterMiddleware {
    let sessions: SessionStore
    let cookieName: String

    package init(sessions: SessionStore, cookies: SessionCookies) {
        self.sessions = sessions
        self.cookieName = cookies.name
    }

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let token = request.cookies[cookieName]?.value, !token.isEmpty, let account = try await sessions.account(token: token) {
            context.session = SessionInfo(accountID: account, token: token)
        }
        return try await next(request, context)
    }
}

/// Cross-site request forgery: a state-changing request must come from the dashboard's own origin (`Sec-Fetch-Site:
/// same-origin`, or else an `Origin` equal to `PUBLIC_URL`'s) and carry a JSON body type; anything else is 403.
package struct CSRFMiddleware<Context: RequestContext>: RouterMiddleware {
    let allowedOrigin: String

    /// `publicURL` such as `https://app.example.com` (a path, if any, is ignored).
    package init(publicURL: String) {
        if let url = URL(string: publicURL), let scheme = url.scheme, let host = url.host {
            allowedOrigin = "\(scheme)://\(host)" + (url.port.map { ":\($0)" } ?? "")
        } else {
            allowedOrigin = publicURL
        }
    }

    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        switch request.method {
        case .get, .head, .options: return try await next(request, context)
        default: break
        }
        let fetchSite = request.headers[HTTPField.Name("Sec-Fetch-Site")!]
        let origin = request.headers[HTTPField.Name("Origin")!]
        let sameOrigin: Bool
        if let fetchSite {
            sameOrigin = fetchSite == "same-origin" && (origin == nil || origin == allowedOrigin)
        } else {
            sameOrigin = origin == allowedOrigin
        }
        guard sameOrigin else {
            context.logger.notice("Cross-site request refused")
            throw APIError.forbidden("This request must come from the Flowtalk dashboard.", code: "cross_site_request")
        }
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        guard contentType.hasPrefix("application/json") else {
            throw APIError.forbidden("Send JSON (Content-Type: application/json).", code: "json_required")
        }
        return try await next(request, context)
    }
}

extension Channel {
    /// The peer's IP address as text, without the port.
    package var peerIP: String? {
        remoteAddress?.ipAddress
    }
}

extension RateLimiter {
    /// Counts one attempt under `key` and throws 429 with `Retry-After` once it is over `limit` in `window`.
    package func enforce(_ key: String, limit: Int, window: Duration) async throws {
        if let retryAfter = try await hit(key, limit: limit, window: window) {
            throw APIError(
                .tooManyRequests, code: "rate_limited", message: "Too many attempts. Try again in \(retryAfter) seconds.",
                headers: [.retryAfter: "\(retryAfter)"])
        }
    }
}
