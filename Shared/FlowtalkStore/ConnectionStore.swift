import FlowtalkCore
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// A connected Instagram account.
package struct ConnectionRecord: Sendable, Equatable {
    package let accountID: UUID
    package let instagramUserID: String
    package let username: String?
    package let tokenSealed: [UInt8]
    package let status: String

    /// Who the sealed token belongs to (the vault's associated data).
    package var owner: TokenOwner { TokenOwner(accountID: accountID.uuidString.lowercased(), instagramUserID: instagramUserID) }
}

/// The only writer of `instagram_connections` and `oauth_states`: connecting (the OAuth state, the connection, its first
/// token refresh), the token's upkeep, and disconnecting.
package struct ConnectionStore: Sendable {
    package let client: Database
    package let logger: Logger

    package init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    private static let columns = "account_id, ig_user_id, username, token_sealed, status"

    package func connection(instagramUserID: String) async throws -> ConnectionRecord? {
        let rows = try await client.query(
            "SELECT \(unescaped: Self.columns) FROM instagram_connections WHERE ig_user_id = \(instagramUserID)", logger: logger)
        for try await (account, ig, username, token, status) in rows.decode((UUID, String, String?, ByteBuffer, String).self) {
            return ConnectionRecord(accountID: account, instagramUserID: ig, username: username, tokenSealed: Array(buffer: token), status: status)
        }
        return nil
    }

    /// The account's connection, when its token was last refreshed and when it expires.
    package func tokenState(accountID: UUID) async throws -> (connection: ConnectionRecord, refreshedAt: Date, expiresAt: Date?)? {
        let rows = try await client.query(
            "SELECT \(unescaped: Self.columns), token_refreshed_at, token_expires_at FROM instagram_connections WHERE account_id = \(accountID)",
            logger: logger)
        for try await (account, ig, username, token, status, refreshed, expires) in rows.decode(
            (UUID, String, String?, ByteBuffer, String, Date, Date?).self)
        {
            return (ConnectionRecord(accountID: account, instagramUserID: ig, username: username, tokenSealed: Array(buffer: token), status: status),
                    refreshed, expires)
        }
        return nil
    }

    /// Stores a connection for the account (replacing its previous one) and, with `scheduleRefresh`, queues its token's
    /// refresh, in one transaction. False when the Instagram account belongs to another Flowtalk account.
    /// `appScopedID` (`/me.id`) and `loginUserID` (the code exchange's `user_id`) are kept to match Meta's callbacks.
    package func connect(
        accountID: UUID, instagramUserID: String, username: String?, sealedToken: [UInt8], expiresAt: Date, scheduleRefresh: Bool = true,
        appScopedID: String? = nil, loginUserID: String? = nil
    ) async throws -> Bool {
        try await client.withTransaction(logger: logger) { db -> Bool in
            for try await holder in try await db.query(
                "SELECT account_id FROM instagram_connections WHERE ig_user_id = \(instagramUserID) FOR UPDATE", logger: logger
            ).decode(UUID.self) where holder != accountID { return false }
            try await db.query(
                """
                INSERT INTO instagram_connections (account_id, ig_user_id, username, token_sealed, token_expires_at, app_scoped_id, login_user_id)
                VALUES (\(accountID), \(instagramUserID), \(username), \(ByteBuffer(bytes: sealedToken)), \(expiresAt), \(appScopedID), \(loginUserID))
                ON CONFLICT (account_id) DO UPDATE SET ig_user_id = EXCLUDED.ig_user_id, username = EXCLUDED.username,
                    app_scoped_id = EXCLUDED.app_scoped_id, login_user_id = EXCLUDED.login_user_id,
                    token_sealed = EXCLUDED.token_sealed, token_expires_at = EXCLUDED.token_expires_at, status = 'active',
                    connected_at = now(), token_refreshed_at = now(),
                    last_check_at = NULL, last_check_ok = NULL, webhooks_subscribed = NULL, last_check_error = NULL
                """, logger: logger)
            if scheduleRefresh {
                try await JobQueue(client: client, logger: logger).enqueue(
                    [TokenRefreshJob.make(accountID: accountID, runAt: TokenRefreshJob.due(expiresAt: expiresAt))], on: db)
            }
            return true
        }
    }

    package func storeRefreshedToken(accountID: UUID, sealed: [UInt8], expiresAt: Date) async throws {
        try await client.query(
            """
            UPDATE instagram_connections SET token_sealed = \(ByteBuffer(bytes: sealed)), token_expires_at = \(expiresAt),
                token_refreshed_at = now(), status = 'active'
            WHERE account_id = \(accountID)
            """, logger: logger)
    }

    /// Whether the connection still lacks its app-scoped id (made before migration 15): the token refresh asks `/me`.
    package func lacksAppScopedID(accountID: UUID) async throws -> Bool {
        for try await _ in try await client.query(
            "SELECT 1 FROM instagram_connections WHERE account_id = \(accountID) AND app_scoped_id IS NULL", logger: logger
        ).decode(Int.self) { return true }
        return false
    }

    /// Records the app-scoped id `/me` gave for the account's connection, if it is still the same Instagram account.
    package func storeAppScopedID(_ appScopedID: String, accountID: UUID, instagramUserID: String) async throws {
        try await client.query(
            """
            UPDATE instagram_connections SET app_scoped_id = \(appScopedID)
            WHERE account_id = \(accountID) AND ig_user_id = \(instagramUserID)
            """, logger: logger)
    }

    package func markNeedsReconnect(accountID: UUID) async throws {
        try await client.withConnection { [self] in try await markNeedsReconnect(accountID: accountID, on: $0) }
    }

    /// In the caller's transaction (a send that found the token refused).
    package func markNeedsReconnect(accountID: UUID, on connection: DatabaseConnection) async throws {
        try await connection.query("UPDATE instagram_connections SET status = 'needs_reconnect' WHERE account_id = \(accountID)", logger: logger)
    }

    /// Deletes the account's connection (its token with it), the account's queued upkeep, the messages still queued
    /// for its conversations (nothing can answer them now), and ends its replies still waiting to be sent (`skipped`).
    package func disconnect(accountID: UUID) async throws {
        let queue = JobQueue(client: client, logger: logger)
        try await client.withTransaction(logger: logger) { db in
            var removed: [(String, String?, String?)] = []
            for try await row in try await db.query(
                "DELETE FROM instagram_connections WHERE account_id = \(accountID) RETURNING ig_user_id, app_scoped_id, login_user_id", logger: logger
            ).decode((String, String?, String?).self) { removed.append(row) }
            for (instagramUserID, appScoped, login) in removed {
                // Its ids stay 90 days (no token): Meta's data-deletion request may come after its deauthorize.
                try await db.query(
                    """
                    INSERT INTO former_connections (account_id, ig_user_id, app_scoped_id, login_user_id)
                    VALUES (\(accountID), \(instagramUserID), \(appScoped), \(login))
                    """, logger: logger)
                try await queue.cancel(conversationsOf: instagramUserID, on: db)
            }
            try await queue.cancel(account: accountID, on: db)
            try await ConversationStore(client: client, logger: logger).endWaitingReplies(accountID: accountID, reason: "disconnected", on: db)
        }
    }

    /// Deletes the connections a Meta callback's `user_id` names (any of the IG user id, the app-scoped id, the code
    /// exchange's user id), current or removed in the last 90 days, in the caller's transaction; returns the Flowtalk
    /// accounts and IG user ids they had, and when a former one was removed (nil: it was current).
    package func remove(callbackUserID userID: String, on db: DatabaseConnection) async throws
        -> [(account: UUID, instagramUserID: String, removedAt: Date?)]
    {
        var removed: [(account: UUID, instagramUserID: String, removedAt: Date?)] = []
        for try await (account, ig) in try await db.query(
            """
            DELETE FROM instagram_connections
            WHERE ig_user_id = \(userID) OR app_scoped_id = \(userID) OR login_user_id = \(userID)
            RETURNING account_id, ig_user_id
            """, logger: logger
        ).decode((UUID, String).self) { removed.append((account, ig, nil)) }
        for try await (account, ig, at) in try await db.query(
            """
            DELETE FROM former_connections
            WHERE ig_user_id = \(userID) OR app_scoped_id = \(userID) OR login_user_id = \(userID)
            RETURNING account_id, ig_user_id, removed_at
            """, logger: logger
        ).decode((UUID, String, Date).self) { removed.append((account, ig, at)) }
        return removed
    }

    /// Forgets removed connections' ids after 90 days (nothing derived from them is left by then). Returns how many.
    package func purgeFormerConnections() async throws -> Int {
        try await client.deleteInBatches(
            """
            WITH gone AS (DELETE FROM former_connections WHERE ctid IN (
                SELECT ctid FROM former_connections WHERE removed_at < now() - interval '90 days' LIMIT 1000) RETURNING 1)
            SELECT count(*) FROM gone
            """, batch: 1000, logger: logger)
    }

    /// The Flowtalk accounts whose connection a Meta callback's `user_id` names (any of its three ids).
    package func accounts(callbackUserID userID: String) async throws -> [UUID] {
        var accounts: [UUID] = []
        for try await account in try await client.query(
            """
            SELECT account_id FROM instagram_connections
            WHERE ig_user_id = \(userID) OR app_scoped_id = \(userID) OR login_user_id = \(userID)
            """, logger: logger
        ).decode(UUID.self) { accounts.append(account) }
        return accounts
    }

    // MARK: OAuth states

    /// A single-use state for the OAuth round trip, bound to the account and the session, valid 10 minutes.
    package func createOAuthState(_ state: String, accountID: UUID, sessionToken: String) async throws {
        try await client.query(
            """
            INSERT INTO oauth_states (state_hash, account_id, session_hash, expires_at)
            VALUES (\(ByteBuffer(bytes: SessionStore.hash(state))), \(accountID), \(ByteBuffer(bytes: SessionStore.hash(sessionToken))),
                    now() + interval '10 minutes')
            """, logger: logger)
    }

    /// Consumes the state whatever happens next (single use); true when it was valid for this account and session.
    package func consumeOAuthState(_ state: String, accountID: UUID, sessionToken: String) async throws -> Bool {
        for try await _ in try await client.query(
            """
            DELETE FROM oauth_states WHERE state_hash = \(ByteBuffer(bytes: SessionStore.hash(state))) AND account_id = \(accountID)
              AND session_hash = \(ByteBuffer(bytes: SessionStore.hash(sessionToken))) AND expires_at > now() RETURNING 1
            """, logger: logger
        ).decode(Int.self) { return true }
        return false
    }

    /// Deletes OAuth states past their expiry (a round trip never finished). Returns how many.
    package func purgeExpiredOAuthStates() async throws -> Int {
        try await client.deleteInBatches(
            """
            WITH gone AS (DELETE FROM oauth_states WHERE state_hash IN (
                SELECT state_hash FROM oauth_states WHERE expires_at <= now() LIMIT 1000) RETURNING 1)
            SELECT count(*) FROM gone
            """, batch: 1000, logger: logger)
    }
}
