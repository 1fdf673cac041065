import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import Foundation
import HTTPTypes
import Hummingbird
import InstagramGraph
import Logging
import NIOCore
import PostgresNIO

/// Connecting and disconnecting the business's Instagram account (Instagram Login, reference §5–6).
struct InstagramController: Sendable {
    let client: Database
    let oauth: InstagramOAuth
    let vault: TokenVault
    let publicURL: String
    let limiter: RateLimiter
    let logger: Logger

    var redirectURI: String { publicURL + "/api/instagram/callback" }
    var connections: ConnectionStore { ConnectionStore(client: client, logger: logger) }

    func add(to api: RouterGroup<AuthRequestContext>) {
        api.post("instagram/connect", use: connect)
        api.get("instagram/callback", use: callback)
        api.post("instagram/disconnect", use: disconnect)
    }

    /// `{"authorize_url": …}`: Instagram's authorize page with a single-use state, bound to this session, valid 10 minutes;
    /// the dashboard opens it. A POST (CSRF-checked like every state-changing route), so a cross-site link or image cannot
    /// start a connection.
    func connect(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let session = try context.requireSession()
        try await limiter.enforce("connect:account:\(session.accountID)", limit: 20, window: .seconds(900))
        guard try await AccountStore(client: client, logger: logger).emailVerified(accountID: session.accountID) else {
            throw APIError.forbidden(
                "Verify your email address before connecting Instagram: open the link we mailed you, or send it again from the dashboard.",
                code: "email_unverified")
        }
        let state = randomToken()
        try await connections.createOAuthState(state, accountID: session.accountID, sessionToken: session.token)
        struct Started: Encodable { let authorize_url: String }
        var response = try JSONResponse.make(Started(authorize_url: oauth.authorizeURL(redirectURI: redirectURI, state: state)), status: .ok)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// Instagram sends the business back here. Every outcome returns to the dashboard with a readable status.
    func callback(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let session = try context.requireSession()
        try await limiter.enforce("oauth:account:\(session.accountID)", limit: 20, window: .seconds(900))
        let query = request.uri.queryParameters
        let state = query["state"].map(String.init) ?? ""
        // The state is consumed whatever happens next: single use.
        let valid = try await connections.consumeOAuthState(state, accountID: session.accountID, sessionToken: session.token)
        guard valid else { return back("error", reason: "expired_or_invalid_state") }
        if query["error"] != nil { return back("error", reason: query["error_reason"] == "user_denied" ? "denied" : "instagram_error") }
        guard let code = query["code"].map(String.init), !code.isEmpty else { return back("error", reason: "missing_code") }

        let connected: InstagramOAuth.Connected
        do {
            connected = try await oauth.connect(code: code, redirectURI: redirectURI)
        } catch {
            context.logger.notice("Instagram connect failed", metadata: ["error.type": "\(type(of: error))"])
            return back("error", reason: "instagram_refused")
        }
        let owner = TokenOwner(accountID: session.accountID.uuidString.lowercased(), instagramUserID: connected.userID)
        let sealed = try vault.seal(connected.token, for: owner)
        let expiresAt = Date().addingTimeInterval(Double(connected.expiresIn))
        // One Instagram account belongs to one Flowtalk account.
        let stored = try await connections.connect(
            accountID: session.accountID, instagramUserID: connected.userID, username: connected.username, sealedToken: sealed, expiresAt: expiresAt,
            appScopedID: connected.appScopedID, loginUserID: connected.loginUserID)
        guard stored else { return back("error", reason: "connected_to_another_account") }
        context.logger.info("Instagram connected")
        return back("connected", reason: nil)
    }

    /// Deletes the token and the connection, and unsubscribes the webhooks (best effort: the token may be dead already).
    func disconnect(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let session = try context.requireSession()
        try await limiter.enforce("disconnect:account:\(session.accountID)", limit: 20, window: .seconds(900))
        try await Self.disconnect(accountID: session.accountID, client: client, oauth: oauth, vault: vault, logger: logger)
        return Response(status: .noContent)
    }

    static func disconnect(accountID: UUID, client: Database, oauth: InstagramOAuth, vault: TokenVault, logger: Logger) async throws {
        let connections = ConnectionStore(client: client, logger: logger)
        guard let connection = try await connections.tokenState(accountID: accountID)?.connection else { return }
        if let token = try? vault.open(connection.tokenSealed, for: connection.owner) {
            try? await oauth.unsubscribe(userID: connection.instagramUserID, token: token)
        }
        try await connections.disconnect(accountID: accountID)
    }

    private func back(_ status: String, reason: String?) -> Response {
        var location = publicURL + "/?instagram=\(status)"
        if let reason { location += "&reason=\(reason)" }
        return Response(status: .found, headers: [.location: location, .cacheControl: "no-store"])
    }

    private func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Hex.encode(bytes)
    }
}
