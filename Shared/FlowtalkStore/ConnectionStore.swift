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
    package func connect(
        accountID: UUID, instagramUserID: String, username: String?, sealedToken: [UInt8], expiresAt: Date, scheduleRefresh: Bool = true
    ) async throws -> Bool {
        try await client.withTransaction(logger: logger) { db -> Bool in
            for try await holder in try await db.query(
                "SELECT account_id FROM instagram_connections WHERE ig_user_id = \(instagramUserID) FOR UPDATE", logger: logger
            ).decode(UUID.self) where holder != accountID { return false }
            try await db.query(
                """
                INSERT INTO instagram_connections (account_id, ig_user_id, username, token_sealed, token_expires_at)
                VALUES (\(accountID), \(instagramUserID), \(username), \(ByteBuffer(bytes: sealedToken)), \(expiresAt))
                ON CONFLICT (account_id) DO UPDATE SET ig_user_id = EXCLUDED.ig_user_id, username = EXCLUDED.username,
                    token_sealed = EXCLUDED.token_sealed, token_expires_at = EXCLUDED.token_expires_at, status = 'active',
                    connected_at = now(), token_refreshed_at = now()
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

    package func markNeedsReconnect(accountID: UUID) async throws {
        try await client.withConnection { [self] in try await markNeedsReconnect(accountID: accountID, on: $0) }
    }

    /// In the caller's transaction (a send that found the token refused).
    package func markNeedsReconnect(accountID: UUID, on connection: DatabaseConnection) async throws {
        try await connection.query("UPDATE instagram_connections SET status = 'needs_reconnect' WHERE account_id = \(accountID)", logger: logger)
    }

    /// Deletes the account's connection (its token with it) and the account's queued upkeep.
    package func disconnect(accountID: UUID) async throws {
        try await client.withTransaction(logger: logger) { db in
            try await db.query("DELETE FROM instagram_connections WHERE account_id = \(accountID)", logger: logger)
            try await JobQueue(client: client, logger: logger).cancel(account: accountID, on: db)
        }
    }

    /// Deletes an Instagram account's connection in the caller's transaction; returns the Flowtalk accounts it belonged to.
    package func remove(instagramUserID: String, on db: DatabaseConnection) async throws -> [UUID] {
        var accounts: [UUID] = []
        for try await account in try await db.query(
            "DELETE FROM instagram_connections WHERE ig_user_id = \(instagramUserID) RETURNING account_id", logger: logger
        ).decode(UUID.self) { accounts.append(account) }
        return accounts
    }

    /// The Flowtalk accounts an Instagram account is connected to (at most one).
    package func accounts(instagramUserID: String) async throws -> [UUID] {
        var accounts: [UUID] = []
        for try await account in try await client.query(
            "SELECT account_id FROM instagram_connections WHERE ig_user_id = \(instagramUserID)", logger: logger
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
