import Crypto
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Server-side sessions: the cookie holds a random 256-bit token, the database only its SHA-256. Lifetimes are checked
/// against the database clock: idle (no request for `idle`) and absolute (`absolute` after login).
package struct SessionStore: Sendable {
    package let client: Database
    package let logger: Logger
    package var idle: Duration = .seconds(30 * 60)
    package var absolute: Duration = .seconds(12 * 3600)

    package init(client: PostgresClient, logger: Logger) {
        self.init(client: Database(client), logger: logger)
    }

    package init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The stored form of a token.
    package static func hash(_ token: String) -> [UInt8] { Array(SHA256.hash(data: Array(token.utf8))) }

    /// A new session for `accountID`; returns the token for the cookie (never stored).
    /// `userAgent` (cut to 200 characters) is kept for the account's export.
    package func create(accountID: UUID, userAgent: String? = nil) async throws -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var generator = SystemRandomNumberGenerator()
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255, using: &generator) }
        let token = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        try await client.query(
            """
            INSERT INTO sessions (token_hash, account_id, expires_at, user_agent)
            VALUES (\(ByteBuffer(bytes: Self.hash(token))), \(accountID), now() + \(absolute.components.seconds) * interval '1 second',
                    \(userAgent.map { String($0.prefix(200)) }))
            """, logger: logger)
        return token
    }

    /// The account of a live session, refreshing its idle timer; nil for unknown, idle or expired sessions.
    ///
    /// The timer is written only when it is older than a thirtieth of `idle` (a minute for 30 minutes): most dashboard
    /// requests then read the session without a write, so without a commit that waits for the disk (issue 17: a third of
    /// a statistics request). A session may so end up to that much before `idle` of true silence.
    package func account(token: String) async throws -> UUID? {
        guard !token.isEmpty, token.utf8.count <= 128 else { return nil }
        let hash = ByteBuffer(bytes: Self.hash(token))
        let rows = try await client.query(
            """
            WITH live AS (
                SELECT account_id, last_seen_at FROM sessions
                WHERE token_hash = \(hash) AND expires_at > now() AND last_seen_at > now() - \(idle.milliseconds) * interval '1 millisecond'),
            touched AS (
                UPDATE sessions SET last_seen_at = now()
                WHERE token_hash = \(hash) AND EXISTS (
                    SELECT 1 FROM live WHERE live.last_seen_at < now() - \(idle.milliseconds / 30) * interval '1 millisecond'))
            SELECT account_id FROM live
            """, logger: logger)
        for try await account in rows.decode(UUID.self) { return account }
        return nil
    }

    package func delete(token: String) async throws {
        try await client.query("DELETE FROM sessions WHERE token_hash = \(ByteBuffer(bytes: Self.hash(token)))", logger: logger)
    }

    /// Deletes sessions past their absolute expiry or idle longer than `idle` (they can never be used again). Returns how many.
    package func purgeExpired() async throws -> Int {
        try await client.deleteInBatches(
            """
            WITH gone AS (DELETE FROM sessions WHERE token_hash IN (
                SELECT token_hash FROM sessions
                WHERE expires_at <= now() OR last_seen_at <= now() - \(idle.components.seconds) * interval '1 second' LIMIT 1000) RETURNING 1)
            SELECT count(*) FROM gone
            """, batch: 1000, logger: logger)
    }

    /// Ends every session of an account except, optionally, one.
    package func deleteAll(accountID: UUID, except token: String? = nil) async throws {
        let keep = ByteBuffer(bytes: token.map(Self.hash) ?? [])
        try await client.query("DELETE FROM sessions WHERE account_id = \(accountID) AND token_hash <> \(keep)", logger: logger)
    }

    /// Ends every session of an account, in the caller's transaction (a password reset).
    package func deleteAll(accountID: UUID, on connection: DatabaseConnection) async throws {
        try await connection.query("DELETE FROM sessions WHERE account_id = \(accountID)", logger: logger)
    }
}

/// Fixed-window counters in PostgreSQL, shared by every replica.
package struct RateLimiter: Sendable {
    package let client: Database
    package let logger: Logger

    package init(client: PostgresClient, logger: Logger) {
        self.init(client: Database(client), logger: logger)
    }

    package init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Forgets an account's counters (`…:account:<id>`) and its email's sign-in, sign-up and reset counters, in the caller's
    /// transaction.
    package func forget(accountID: UUID, email: String, on connection: DatabaseConnection) async throws {
        let emailKeys = ["login", "signup", "reset"].map { "\($0):email:\(email)" }
        try await connection.query(
            "DELETE FROM rate_limits WHERE key LIKE \("%:account:\(accountID)") OR key = ANY(\(emailKeys))", logger: logger)
    }

    /// Deletes counters whose window began over a day ago (no limit here is longer than a day, so each has ended).
    /// Returns how many.
    package func purgeStale() async throws -> Int {
        try await client.deleteInBatches(
            """
            WITH gone AS (DELETE FROM rate_limits WHERE key IN (
                SELECT key FROM rate_limits WHERE window_start < now() - interval '1 day' LIMIT 1000) RETURNING 1)
            SELECT count(*) FROM gone
            """, batch: 1000, logger: logger)
    }

    /// Counts one attempt under `key`; returns nil when allowed, or the seconds until the window resets when over `limit`.
    package func hit(_ key: String, limit: Int, window: Duration) async throws -> Int? {
        let seconds = window.components.seconds
        let rows = try await client.query(
            """
            INSERT INTO rate_limits (key, window_start, count) VALUES (\(key), now(), 1)
            ON CONFLICT (key) DO UPDATE SET
                count = CASE WHEN rate_limits.window_start <= now() - \(seconds) * interval '1 second' THEN 1 ELSE rate_limits.count + 1 END,
                window_start = CASE WHEN rate_limits.window_start <= now() - \(seconds) * interval '1 second' THEN now()
                                    ELSE rate_limits.window_start END
            RETURNING count, CEIL(EXTRACT(EPOCH FROM window_start + \(seconds) * interval '1 second' - now()))::int
            """, logger: logger)
        for try await (count, remaining) in rows.decode((Int, Int).self) { return count > limit ? max(1, remaining) : nil }
        return nil
    }
}
