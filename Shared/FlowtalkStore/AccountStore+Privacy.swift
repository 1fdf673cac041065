import Foundation
import Logging
import PostgresNIO

/// The privacy policy versions an account accepted (`policy_acceptances`, written only here).
extension AccountStore {
    /// Records that the account accepted `version` now (once per version).
    package func acceptPolicy(_ version: String, accountID: UUID) async throws {
        try await client.withConnection { [self] in try await acceptPolicy(version, accountID: accountID, on: $0) }
    }

    /// In the caller's transaction (sign-up).
    package func acceptPolicy(_ version: String, accountID: UUID, on db: DatabaseConnection) async throws {
        try await db.query(
            """
            INSERT INTO policy_acceptances (account_id, version) SELECT id, \(version) FROM accounts WHERE id = \(accountID)
            ON CONFLICT (account_id, version) DO NOTHING
            """, logger: logger)
    }

    /// Every version the account accepted, oldest first.
    package func acceptedPolicies(accountID: UUID) async throws -> [(version: String, acceptedAt: Date)] {
        var accepted: [(version: String, acceptedAt: Date)] = []
        for try await row in try await client.query(
            "SELECT version, accepted_at FROM policy_acceptances WHERE account_id = \(accountID) ORDER BY accepted_at, version", logger: logger
        ).decode((String, Date).self) { accepted.append(row) }
        return accepted
    }
}
