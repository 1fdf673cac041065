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
    let appSecret: Secret<String>
    let publicURL: String
    let cookieSecure: Bool
    let logger: Logger

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
        let rows = try await client.query(
            """
            SELECT jsonb_build_object(
                'exported_at', now(),
                'account', (SELECT to_jsonb(a) - 'password_hash' FROM accounts a WHERE a.id = \(account)),
                'instagram_connection', (SELECT to_jsonb(c) - 'token_sealed' FROM instagram_connections c WHERE c.account_id = \(account)),
                'rules', COALESCE((SELECT jsonb_agg(to_jsonb(r) - 'account_id' ORDER BY r.created_at) FROM reply_rules r WHERE r.account_id = \(account)), '[]'),
                'settings', (SELECT to_jsonb(s) - 'account_id' FROM account_settings s WHERE s.account_id = \(account)),
                'ice_breakers', COALESCE((SELECT jsonb_agg(to_jsonb(i) - 'account_id' ORDER BY i.position) FROM ice_breakers i WHERE i.account_id = \(account)), '[]'),
                'conversations', COALESCE((SELECT jsonb_agg(to_jsonb(v) - 'account_id') FROM conversations v WHERE v.account_id = \(account)), '[]'),
                'replies', COALESCE((SELECT jsonb_agg(to_jsonb(p) - 'account_id' ORDER BY p.id) FROM replies p WHERE p.account_id = \(account)), '[]'),
                'sent_messages', COALESCE((SELECT jsonb_agg(to_jsonb(m) - 'account_id') FROM sent_messages m WHERE m.account_id = \(account)), '[]'),
                'handled_events', COALESCE((SELECT jsonb_agg(to_jsonb(h) - 'account_id') FROM handled_events h WHERE h.account_id = \(account)), '[]'),
                'activity', COALESCE((SELECT jsonb_agg(to_jsonb(e) - 'account_id' ORDER BY e.id) FROM activity e WHERE e.account_id = \(account)), '[]'),
                'counts', COALESCE((SELECT jsonb_agg(to_jsonb(n) ORDER BY n.hour, n.metric) FROM (
                    SELECT hour, metric, sum(count)::int8 AS count FROM hourly_counts WHERE account_id = \(account) GROUP BY hour, metric) n), '[]'),
                'ai_usage', COALESCE((SELECT jsonb_agg(to_jsonb(u) - 'account_id' ORDER BY u.day) FROM ai_usage u WHERE u.account_id = \(account)), '[]')
            )::text
            """, logger: logger)
        var document = "{}"
        for try await text in rows.decode(String.self) { document = text }
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
        var found: (String, String)?
        for try await row in try await client.query("SELECT email, password_hash FROM accounts WHERE id = \(session.accountID)", logger: logger)
            .decode((String, String).self)
        { found = row }
        guard let (email, stored) = found else { throw APIError.unauthorized() }
        let ok = try await NIOThreadPool.singleton.runIfActive { [hasher] in hasher.verify(password, against: stored) }
        guard ok else { throw APIError.unauthorized("The password is incorrect.", code: "invalid_credentials") }
        try await Self.erase(accountID: session.accountID, email: email, client: client, oauth: oauth, vault: vault, logger: logger)
        var response = Response(status: .noContent)
        response.setCookie(expiredSessionCookie(secure: cookieSecure))
        context.logger.info("Account deleted")
        return response
    }

    /// Removes an account and everything that refers to it: its rows (by cascade), its queued jobs, its rate-limit
    /// counters; the Instagram subscription is revoked first while the token still exists.
    static func erase(accountID: UUID, email: String, client: Database, oauth: InstagramOAuth, vault: TokenVault, logger: Logger) async throws {
        let instagramID = try await DispatchStore(client: client, logger: logger).tokenState(accountID: accountID)?.connection.instagramUserID
        try await InstagramController.disconnect(accountID: accountID, client: client, oauth: oauth, vault: vault, logger: logger)
        try await client.withTransaction(logger: logger) { db in
            if let instagramID {
                try await db.query("DELETE FROM jobs WHERE serialization_key LIKE \("conv:\(instagramID):%")", logger: logger)
            }
            try await db.query("DELETE FROM jobs WHERE serialization_key LIKE \("account:\(accountID):%") OR payload = \(ByteBuffer(string: accountID.uuidString))", logger: logger)
            try await db.query(
                "DELETE FROM rate_limits WHERE key LIKE \("%:account:\(accountID)") OR key = \("login:email:\(email)")", logger: logger)
            try await db.query("DELETE FROM accounts WHERE id = \(accountID)", logger: logger)
        }
    }

    // MARK: Meta callbacks

    /// Meta: the person removed the app. The connection and its token are deleted; the Flowtalk account stays.
    func deauthorize(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let userID = try await signedUserID(request, context)
        for try await account in try await client.query("SELECT account_id FROM instagram_connections WHERE ig_user_id = \(userID)", logger: logger)
            .decode(UUID.self)
        {
            try await client.query("DELETE FROM instagram_connections WHERE account_id = \(account)", logger: logger)
            try await client.query("DELETE FROM jobs WHERE serialization_key LIKE \("account:\(account):%")", logger: logger)
        }
        context.logger.info("Deauthorization handled")
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"success":true}"#)))
    }

    /// Meta: the person asks for their data to be deleted. Everything derived from that Instagram account is erased
    /// (connection, token, conversations, replies, activity); the answer is the same for an unknown id.
    func dataDeletion(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let userID = try await signedUserID(request, context)
        let code = Hex.encode((0..<12).map { _ in UInt8.random(in: 0...255) })
        try await client.withTransaction(logger: logger) { db in
            var accounts: [UUID] = []
            for try await account in try await db.query(
                "SELECT account_id FROM instagram_connections WHERE ig_user_id = \(userID)", logger: logger
            ).decode(UUID.self) { accounts.append(account) }
            for account in accounts {
                for table in ["conversations", "replies", "sent_messages", "handled_events", "activity"] {
                    try await db.query("DELETE FROM \(unescaped: table) WHERE account_id = \(account)", logger: logger)
                }
                try await db.query("DELETE FROM instagram_connections WHERE account_id = \(account)", logger: logger)
            }
            try await db.query("DELETE FROM jobs WHERE serialization_key LIKE \("conv:\(userID):%")", logger: logger)
            try await db.query("INSERT INTO deletion_requests (confirmation_code, status) VALUES (\(code), 'completed')", logger: logger)
        }
        let body = #"{"url":"\#(publicURL)/meta/data-deletion/\#(code)","confirmation_code":"\#(code)"}"#
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    /// The status page Meta links the person to.
    func deletionStatus(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let code = try context.parameters.require("code")
        guard code.count <= 64, code.allSatisfy({ $0.isHexDigit }) else { throw APIError.notFound }
        for try await (status, at) in try await client.query(
            "SELECT status, requested_at FROM deletion_requests WHERE confirmation_code = \(code)", logger: logger
        ).decode((String, Date).self) {
            let html = """
                <!doctype html><html lang="en"><meta charset="utf-8"><title>Flowtalk data deletion</title>
                <h1>Data deletion request</h1><p>Confirmation code: <code>\(code)</code></p>
                <p>Status: \(status == "completed" ? "completed — the data Flowtalk held for this Instagram account has been deleted" : status).</p>
                <p>Requested: \(ISO8601DateFormatter().string(from: at))</p></html>
                """
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
        }
        throw APIError.notFound
    }

    /// Reads and verifies `signed_request` (form field, parsed by `MetaSignedRequest`) and returns its `user_id`.
    /// 400 for a malformed value, 401 for a bad signature.
    private func signedUserID(_ request: Request, _ context: AuthRequestContext) async throws -> String {
        var request = request
        let form = String(buffer: try await request.collectBody(upTo: 16 * 1024))
        do throws(SignedRequestError) {
            return try MetaSignedRequest.userID(form: form, appSecret: appSecret)
        } catch .missing {
            throw APIError.badRequest("signed_request is missing.", code: "invalid_signed_request")
        } catch .malformed {
            throw APIError.badRequest("signed_request is malformed.", code: "invalid_signed_request")
        } catch .invalidSignature {
            context.logger.notice("signed_request signature rejected")
            throw APIError.unauthorized("signed_request signature is invalid.", code: "invalid_signature")
        } catch .notUnderstood {
            throw APIError.badRequest("signed_request payload is not understood.", code: "invalid_signed_request")
        }
    }
}
