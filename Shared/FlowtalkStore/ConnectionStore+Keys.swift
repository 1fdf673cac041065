import Foundation
import NIOCore
import PostgresNIO

/// What a key rotation and `flowtalk-admin status` need of the connections.
extension ConnectionStore {
    /// A page of connections after `after` (by account id), with their sealed tokens.
    package func sealedTokens(after: UUID?, limit: Int) async throws -> [ConnectionRecord] {
        var rows: [ConnectionRecord] = []
        let start = after ?? UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        for try await (account, ig, username, token, status) in try await client.query(
            """
            SELECT account_id, ig_user_id, username, token_sealed, status FROM instagram_connections
            WHERE account_id > \(start) ORDER BY account_id LIMIT \(limit)
            """, logger: logger
        ).decode((UUID, String, String?, ByteBuffer, String).self) {
            rows.append(ConnectionRecord(accountID: account, instagramUserID: ig, username: username, tokenSealed: Array(buffer: token), status: status))
        }
        return rows
    }

    /// Replaces a connection's sealed token if it is still `old` (a token refresh in between wins); true when replaced.
    package func replaceSealedToken(accountID: UUID, old: [UInt8], new: [UInt8]) async throws -> Bool {
        for try await _ in try await client.query(
            """
            UPDATE instagram_connections SET token_sealed = \(ByteBuffer(bytes: new))
            WHERE account_id = \(accountID) AND token_sealed = \(ByteBuffer(bytes: old)) RETURNING 1
            """, logger: logger
        ).decode(Int.self) { return true }
        return false
    }

    /// How many connections there are, and how many need the business to reconnect.
    package func statusCounts() async throws -> (total: Int, needsReconnect: Int) {
        for try await (total, reconnect) in try await client.query(
            "SELECT count(*)::int8, count(*) FILTER (WHERE status = 'needs_reconnect')::int8 FROM instagram_connections", logger: logger
        ).decode((Int64, Int64).self) { return (Int(total), Int(reconnect)) }
        return (0, 0)
    }
}
