import Foundation
import PostgresNIO

/// What the dashboard shows about an account's Instagram connection (`GET /api/health`'s `connection`).
package struct ConnectionHealth: Sendable, Equatable {
    package var username: String?
    package var tokenExpiresAt: Date?
    package var tokenRefreshedAt: Date
    /// The daily check (dispatch): when it last ran, whether the token worked, whether the webhooks are subscribed,
    /// and why it failed (`token_expired`, `token_revoked`, `token_invalid`; `token_unreadable`: this server could not
    /// open the stored token, which is not the business's to fix, so the connection is left as it is).
    package var lastCheckAt: Date?
    package var lastCheckOK: Bool?
    package var webhooksSubscribed: Bool?
    package var lastCheckError: String?

    package init(
        username: String? = nil, tokenExpiresAt: Date? = nil, tokenRefreshedAt: Date, lastCheckAt: Date? = nil, lastCheckOK: Bool? = nil,
        webhooksSubscribed: Bool? = nil, lastCheckError: String? = nil
    ) {
        self.username = username
        self.tokenExpiresAt = tokenExpiresAt
        self.tokenRefreshedAt = tokenRefreshedAt
        self.lastCheckAt = lastCheckAt
        self.lastCheckOK = lastCheckOK
        self.webhooksSubscribed = webhooksSubscribed
        self.lastCheckError = lastCheckError
    }
}

extension ConnectionStore {
    /// Active connections not checked for a day (oldest first): dispatch queues one check each, once per day.
    package func accountsDueForCheck(limit: Int = 500) async throws -> [UUID] {
        var due: [UUID] = []
        for try await id in try await client.query(
            """
            SELECT account_id FROM instagram_connections
            WHERE status = 'active' AND (last_check_at IS NULL OR last_check_at < now() - interval '23 hours')
            ORDER BY last_check_at NULLS FIRST LIMIT \(limit)
            """, logger: logger
        ).decode(UUID.self) { due.append(id) }
        return due
    }

    /// Records a check. `reconnect`: Instagram refused the token, and the connection now needs reconnecting.
    package func recordCheck(
        accountID: UUID, instagramUserID: String, ok: Bool, webhooksSubscribed: Bool?, error: String?, reconnect: Bool = false
    ) async throws {
        try await client.query(
            """
            UPDATE instagram_connections SET last_check_at = now(), last_check_ok = \(ok),
                webhooks_subscribed = COALESCE(\(webhooksSubscribed)::boolean, webhooks_subscribed), last_check_error = \(error)::text,
                status = CASE WHEN \(reconnect) THEN 'needs_reconnect' ELSE status END
            WHERE account_id = \(accountID) AND ig_user_id = \(instagramUserID)
            """, logger: logger)
    }

    package func connectionHealth(accountID: UUID) async throws -> ConnectionHealth? {
        let rows = try await client.query(
            """
            SELECT username, token_expires_at, token_refreshed_at, last_check_at, last_check_ok, webhooks_subscribed, last_check_error
            FROM instagram_connections WHERE account_id = \(accountID)
            """, logger: logger)
        for try await (username, expires, refreshed, checked, ok, webhooks, error) in rows.decode(
            (String?, Date?, Date, Date?, Bool?, Bool?, String?).self)
        {
            return ConnectionHealth(
                username: username, tokenExpiresAt: expires, tokenRefreshedAt: refreshed, lastCheckAt: checked, lastCheckOK: ok,
                webhooksSubscribed: webhooks, lastCheckError: error)
        }
        return nil
    }
}
