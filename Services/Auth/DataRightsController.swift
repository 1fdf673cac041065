import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import Foundation
import HTTPTypes
import Hummingbird
import InstagramGraph
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// The privacy policy's rights: export (access, portability), account deletion, and Meta's deauthorize and
/// data-deletion callbacks.
struct DataRightsController: Sendable {
    let client: Database
    let oauth: InstagramOAuth
    let vault: TokenVault
    let hasher: PasswordHasher
    let limiter: RateLimiter
    let callbackSecrets: [Secret<String>]
    let publicURL: String
    let cookies: SessionCookies
    let trustedProxies: TrustedProxies
    let logger: Logger

    /// Meta's callbacks per client address: Meta retries, but never at this rate; junk beyond it costs a 429, not a
    /// signature check and a database call each.
    static let metaLimit = (count: 300, window: Duration.seconds(300))

    func add(api: RouterGroup<AuthRequestContext>, router: Router<AuthRequestContext>) {
        api.get("account/export", use: export)
        api.delete("account", use: deleteAccount)
        router.post("/meta/deauthorize", use: deauthorize)
        router.post("/meta/data-deletion", use: dataDeletion)
        router.get("/meta/data-deletion/:code", use: deletionStatus)
    }

    /// Everything held about the account, as JSON — without the password hash, the token or sessions.
    func export(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let account = try context.requireSession().accountID
        try await limiter.enforce("export:account:\(account)", limit: 10, window: .seconds(3600))
        let document = try await AccountStore(client: client, logger: logger).export(accountID: account)
        return Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8", .contentDisposition: #"attachment; filename="flowtalk-export.json""#],
            body: .init(byteBuffer: ByteBuffer(string: document)))
    }

    /// Deletes the account and every row that belongs to it, after the password is confirmed.
    func deleteAccount(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let session = try context.requireSession()
        try await limiter.enforce("delete:account:\(session.accountID)", limit: 10, window: .seconds(900))
        struct Input: Decodable { let password: String }
        let password = try await request.decode(as: Input.self, context: context).password
        guard let (email, stored) = try await AccountStore(client: client, logger: logger).credentials(accountID: session.accountID) else {
            throw APIError.unauthorized()
        }
        let ok = try await NIOThreadPool.singleton.runIfActive { [hasher] in hasher.verify(password, against: stored) }
        guard ok else { throw APIError.unauthorized("The password is incorrect.", code: "invalid_credentials") }
        try await Self.erase(accountID: session.accountID, email: email, client: client, oauth: oauth, vault: vault, logger: logger)
        var response = Response(status: .noContent)
        response.setCookie(cookies.expired())
        context.logger.info("Account deleted")
        return response
    }

    /// Removes an account and everything that refers to it: its rows (by cascade), its queued jobs, its rate-limit
    /// counters; the Instagram subscription is revoked first while the token still exists.
    static func erase(accountID: UUID, email: String, client: Database, oauth: InstagramOAuth, vault: TokenVault, logger: Logger) async throws {
        let instagramID = try await ConnectionStore(client: client, logger: logger).tokenState(accountID: accountID)?.connection.instagramUserID
        try await InstagramController.disconnect(accountID: accountID, client: client, oauth: oauth, vault: vault, logger: logger)
        try await AccountStore(client: client, logger: logger).erase(accountID: accountID, email: email, instagramUserID: instagramID)
    }

    // MARK: Meta callbacks

    /// Meta: the person removed the app. The connection and its token are deleted; the Flowtalk account stays.
    func deauthorize(_ request: Request, context: AuthRequestContext) async throws -> Response {
        try await limitMeta(request, context)
        let userID = try await signedUserID(request, context)
        let connections = ConnectionStore(client: client, logger: logger)
        let accounts = try await connections.accounts(callbackUserID: userID)
        for account in accounts { try await connections.disconnect(accountID: account) }
        context.logger.info("Deauthorization handled", metadata: ["meta.connections_removed": "\(accounts.count)"])
        return try JSONResponse.make(["success": true])
    }

    /// Meta: the person asks for their data to be deleted. Everything derived from that Instagram account is erased
    /// (connection, token, conversations, replies, activity); the answer is the same for an unknown id.
    func dataDeletion(_ request: Request, context: AuthRequestContext) async throws -> Response {
        try await limitMeta(request, context)
        let userID = try await signedUserID(request, context)
        let code = Hex.encode((0..<12).map { _ in UInt8.random(in: 0...255) })
        let deleted = try await AccountStore(client: client, logger: logger).eraseInstagramData(callbackUserID: userID, confirmationCode: code)
        context.logger.info("Data deletion handled", metadata: ["meta.rows_deleted": "\(deleted)"])
        return try JSONResponse.make(["url": "\(publicURL)/meta/data-deletion/\(code)", "confirmation_code": code])
    }

    /// The status page Meta links the person to.
    func deletionStatus(_ request: Request, context: AuthRequestContext) async throws -> Response {
        try await limitMeta(request, context)
        let code = try context.parameters.require("code")
        guard code.count <= 64, code.allSatisfy({ $0.isHexDigit }) else { throw APIError.notFound }
        if let (outcome, deleted, at) = try await AccountStore(client: client, logger: logger).deletionRequest(code: code) {
            let status =
                outcome == "nothing_held"
                ? "completed — Flowtalk held no data for this Instagram account, so there was nothing to delete."
                : "completed — Flowtalk deleted the \(deleted) records it held for this Instagram account: its connection (with its "
                    + "access token, if it was still connected) and the conversations, replies and activity log entries derived from it."
            let html = """
                <!doctype html><html lang="en"><meta charset="utf-8"><title>Flowtalk data deletion</title>
                <h1>Data deletion request</h1><p>Confirmation code: <code>\(code)</code></p>
                <p>Status: \(status)</p>
                <p>Requested: \(ISO8601DateFormatter().string(from: at))</p></html>
                """
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
        }
        throw APIError.notFound
    }

    private func limitMeta(_ request: Request, _ context: AuthRequestContext) async throws {
        let address = trustedProxies.rateLimitKey(peer: context.peerAddress, forwardedFor: request.headers[HTTPField.Name("X-Forwarded-For")!])
        try await limiter.enforce("meta:ip:\(address)", limit: Self.metaLimit.count, window: Self.metaLimit.window)
    }

    /// Reads and verifies `signed_request` (form field, parsed by `MetaSignedRequest`) and returns its `user_id`.
    /// 400 for a malformed value, 401 for a bad signature.
    private func signedUserID(_ request: Request, _ context: AuthRequestContext) async throws -> String {
        var request = request
        let form = String(buffer: try await request.collectBody(upTo: 16 * 1024))
        do throws(SignedRequestError) {
            return try MetaSignedRequest.verifiedCallback(form: form, secrets: callbackSecrets).userID
        } catch .missing {
            throw APIError.badRequest("signed_request is missing.", code: "invalid_signed_request")
        } catch .malformed {
            throw APIError.badRequest("signed_request is malformed.", code: "invalid_signed_request")
        } catch .invalidSignature {
            context.logger.notice("signed_request signature rejected")
            throw APIError.unauthorized("signed_request signature is invalid.", code: "invalid_signature")
        } catch .notUnderstood {
            throw APIError.badRequest("signed_request payload is not understood.", code: "invalid_signed_request")
        } catch .stale {
            context.logger.notice("signed_request refused: issued_at missing, older than a day or in the future")
            throw APIError.badRequest("signed_request was issued more than a day ago (or has no issued_at).", code: "stale_signed_request")
        }
    }
}
