import Foundation
import PostgresNIO

extension AccountStore {
    /// Development only (`flowtalk-dev seed-demo`; no service calls it): gives a seeded account a password one can sign in
    /// with and marks its address verified, so `make run`'s demo shop can be signed in to. Open sessions stay open.
    package func setDevelopmentLogin(passwordHash: String, accountID: UUID) async throws {
        try await client.query(
            """
            UPDATE accounts SET password_hash = \(passwordHash), email_verified_at = COALESCE(email_verified_at, now())
            WHERE id = \(accountID)
            """, logger: logger)
    }
}
