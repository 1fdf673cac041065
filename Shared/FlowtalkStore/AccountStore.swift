import FlowtalkCore
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// The only writer of `accounts` (and the settings row each account gets) and of `deletion_requests`: sign-up,
/// credentials, the export of everything held about an account, and erasing it.
package struct AccountStore: Sendable {
    package let client: Database
    package let logger: Logger

    package init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// What the dashboard shows about the signed-in account.
    package struct Summary: Sendable {
        package let id: UUID
        package let email: String
        package let createdAt: Date
        /// Whether the address was proven by a link mailed to it (migration 13).
        package let emailVerified: Bool
        package let instagram: (username: String?, instagramUserID: String, status: String)?
    }

    /// Creates the account and its settings row; false (and nothing written) when the email is registered already.
    package func create(id: UUID = UUID(), email: String, passwordHash: String) async throws -> Bool {
        try await client.withTransaction(logger: logger) { db in
            var created = false
            for try await _ in try await db.query(
                "INSERT INTO accounts (id, email, password_hash) VALUES (\(id), \(email), \(passwordHash)) ON CONFLICT (email) DO NOTHING RETURNING id",
                logger: logger
            ).decode(UUID.self) { created = true }
            if created { try await db.query("INSERT INTO account_settings (account_id) VALUES (\(id))", logger: logger) }
            return created
        }
    }

    package func credentials(email: String) async throws -> (accountID: UUID, passwordHash: String)? {
        for try await row in try await client.query("SELECT id, password_hash FROM accounts WHERE email = \(email)", logger: logger)
            .decode((UUID, String).self)
        { return row }
        return nil
    }

    package func credentials(accountID: UUID) async throws -> (email: String, passwordHash: String)? {
        for try await row in try await client.query("SELECT email, password_hash FROM accounts WHERE id = \(accountID)", logger: logger)
            .decode((String, String).self)
        { return row }
        return nil
    }

    package func setPasswordHash(_ hash: String, accountID: UUID) async throws {
        try await client.query("UPDATE accounts SET password_hash = \(hash) WHERE id = \(accountID)", logger: logger)
    }

    /// Sets the password hash and queues `notices` (the "your password was changed" mail) in one transaction. Links still
    /// out for a change of email or a reset stop working: whoever asked for them may have held the old password.
    package func setPasswordHash(_ hash: String, accountID: UUID, notices: [NewJob]) async throws {
        let queue = JobQueue(client: client, logger: logger)
        try await client.withTransaction(logger: logger) { db in
            try await db.query("UPDATE accounts SET password_hash = \(hash) WHERE id = \(accountID)", logger: logger)
            try await db.query(
                "DELETE FROM account_tokens WHERE account_id = \(accountID) AND purpose IN ('change_email', 'reset_password')", logger: logger)
            try await queue.enqueue(notices, on: db)
        }
    }

    package func summary(accountID: UUID) async throws -> Summary? {
        let rows = try await client.query(
            """
            SELECT a.id, a.email, a.created_at, a.email_verified_at IS NOT NULL, c.username, c.ig_user_id, c.status
            FROM accounts a LEFT JOIN instagram_connections c ON c.account_id = a.id WHERE a.id = \(accountID)
            """, logger: logger)
        for try await (id, email, created, verified, username, igID, status) in rows.decode((UUID, String, Date, Bool, String?, String?, String?).self) {
            return Summary(
                id: id, email: email, createdAt: created, emailVerified: verified, instagram: igID.map { (username, $0, status ?? "active") })
        }
        return nil
    }

    /// Everything held about the account as one JSON document — without the password hash, the token or sessions.
    package func export(accountID account: UUID) async throws -> String {
        let rows = try await client.query(
            """
            SELECT jsonb_build_object(
                'format', 'flowtalk-export/1',
                'exported_at', now(),
                'privacy_policy_versions', COALESCE((SELECT jsonb_agg(jsonb_build_object('version', p.version, 'accepted_at', p.accepted_at)
                    ORDER BY p.accepted_at) FROM policy_acceptances p WHERE p.account_id = \(account)), '[]'),
                'sessions', COALESCE((SELECT jsonb_agg(jsonb_build_object('started_at', s.created_at, 'last_seen_at', s.last_seen_at,
                    'expires_at', s.expires_at, 'user_agent', s.user_agent) ORDER BY s.created_at) FROM sessions s WHERE s.account_id = \(account)), '[]'),
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
                    SELECT hour, metric, sum(count)::int8 AS count FROM (
                        SELECT hour, metric, count FROM hourly_counts WHERE account_id = \(account)
                        UNION ALL SELECT p.hour, u.metric, u.count FROM hourly_packed p, unnest(p.metrics, p.counts) AS u(metric, count)
                        WHERE p.account_id = \(account)) c GROUP BY hour, metric) n), '[]'),
                'ai_usage', COALESCE((SELECT jsonb_agg(to_jsonb(u) - 'account_id' ORDER BY u.day) FROM ai_usage u WHERE u.account_id = \(account)), '[]')
            )::text
            """, logger: logger)
        for try await text in rows.decode(String.self) { return text }
        return "{}"
    }

    /// Deletes the account and every row that refers to it (by cascade), its queued jobs (those of its Instagram account's
    /// conversations too) and its rate-limit counters, in one transaction. The caller revokes Instagram's side first.
    package func erase(accountID: UUID, email: String, instagramUserID: String?) async throws {
        let queue = JobQueue(client: client, logger: logger)
        try await client.withTransaction(logger: logger) { db in
            if let instagramUserID { try await queue.cancel(conversationsOf: instagramUserID, on: db) }
            try await queue.cancel(account: accountID, on: db)
            try await RateLimiter(client: client, logger: logger).forget(accountID: accountID, email: email, on: db)
            try await SignInThrottle(client: client, logger: logger).forget(email: email, on: db)
            try await db.query("DELETE FROM accounts WHERE id = \(accountID)", logger: logger)
        }
    }

    /// Meta's data-deletion callback: erases everything derived from the Instagram account `callbackUserID` names (any
    /// of its ids: its connection and token, conversations, replies, activity) and its queued events, and records the
    /// request under `code` with what it found, in one transaction. Returns the rows deleted (0: nothing was held).
    @discardableResult
    package func eraseInstagramData(callbackUserID: String, confirmationCode code: String) async throws -> Int {
        let queue = JobQueue(client: client, logger: logger)
        let connections = ConnectionStore(client: client, logger: logger)
        let conversations = ConversationStore(client: client, logger: logger)
        let activity = ActivityStore(client: client, logger: logger)
        return try await client.withTransaction(logger: logger) { db -> Int in
            var deleted = 0
            let removed = try await connections.remove(callbackUserID: callbackUserID, on: db)
            for (account, instagramUserID, removedAt) in removed {
                // A connection removed earlier: only what was recorded while it was connected (the account may have
                // connected another Instagram account since).
                deleted += 1 + (try await conversations.eraseConversations(accountID: account, before: removedAt, on: db))
                deleted += try await activity.erase(accountID: account, before: removedAt, on: db)
                try await queue.cancel(conversationsOf: instagramUserID, on: db)
            }
            try await queue.cancel(conversationsOf: callbackUserID, on: db)
            let outcome = deleted > 0 ? "deleted" : "nothing_held"
            try await db.query(
                """
                INSERT INTO deletion_requests (confirmation_code, status, outcome, deleted_rows)
                VALUES (\(code), 'completed', \(outcome), \(deleted))
                """, logger: logger)
            return deleted
        }
    }

    /// A recorded data-deletion request: whether anything was held, how many records were deleted, and when.
    package func deletionRequest(code: String) async throws -> (outcome: String, deletedRows: Int, requestedAt: Date)? {
        for try await row in try await client.query(
            "SELECT outcome, deleted_rows, requested_at FROM deletion_requests WHERE confirmation_code = \(code)", logger: logger
        ).decode((String, Int, Date).self) { return row }
        return nil
    }
}
