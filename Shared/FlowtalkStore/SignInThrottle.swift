import Foundation
import Logging
import PostgresNIO

/// Sign-in throttling that cannot lock the owner out (the only writer of `sign_in_failures`).
///
/// Only failures count, and they count against the pair (email, client) and, as a bound, against the email:
/// - one client guessing one email gets `freeFailures` tries, then must wait 1 s, 2 s, 4 s … (at most 15 minutes) after
///   each further failure; its count is forgotten a day after its last failure, or at its next success;
/// - once an email has `emailBudget` failures within the hour, every client that has failed for it waits for the hour
///   to end, while a client that has not failed for it (the owner's own browser) may still sign in. Guessing across
///   many clients is bounded to one try per client per hour beyond the budget, and the correct password from a client
///   that has not failed is never refused.
///
/// An attempt is counted as a failure before the password is checked (so parallel requests cannot outrun the count) and
/// taken back when it succeeds.
package struct SignInThrottle: Sendable {
    package let client: Database
    package let logger: Logger
    package var freeFailures = 3
    /// The first wait; each further failure doubles it (tests lengthen it so no machine is slow enough to outrun it).
    package var baseDelaySeconds = 1
    package var maximumDelaySeconds = 900
    package var emailBudget = 50
    package var emailWindowSeconds = 3600
    package var forgetAfterSeconds = 86_400

    package init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The wait before the next attempt after `failures` failures of one client (0 while under `freeFailures`).
    package func delaySeconds(afterFailures failures: Int) -> Int {
        guard failures >= freeFailures else { return 0 }
        let exponent = min(failures - freeFailures, 20)
        return min(baseDelaySeconds << exponent, maximumDelaySeconds)
    }

    /// Starts an attempt: nil when it may go ahead (and it is counted as a failure until `succeeded`), or the seconds to
    /// wait. `email` is the canonical address (known or not: both are throttled alike), `clientKey` the client's key.
    package func begin(email: String, clientKey: String) async throws -> Int? {
        let email = String(email.prefix(254))
        let clientKey = clientKey == "*" ? "unknown" : String(clientKey.prefix(100))
        return try await client.withTransaction(logger: logger) { db in
            try await db.query(
                "INSERT INTO sign_in_failures (email, client) VALUES (\(email), '*'), (\(email), \(clientKey)) ON CONFLICT DO NOTHING",
                logger: logger)
            // The email's row first, then the client's: one lock order for every attempt on this email.
            let rows = try await db.query(
                """
                SELECT client, failures, EXTRACT(EPOCH FROM now() - window_start)::float8, EXTRACT(EPOCH FROM now() - last_failure_at)::float8
                FROM sign_in_failures WHERE email = \(email) AND client IN ('*', \(clientKey))
                ORDER BY client = '*' DESC FOR UPDATE
                """, logger: logger)
            var emailFailures = 0, emailAge = 0.0, clientFailures = 0, clientIdle = 0.0
            for try await (row, failures, windowAge, idle) in rows.decode((String, Int, Double, Double).self) {
                if row == "*" {
                    (emailFailures, emailAge) = (windowAge >= Double(emailWindowSeconds) ? 0 : failures, windowAge)
                } else {
                    (clientFailures, clientIdle) = (idle >= Double(forgetAfterSeconds) ? 0 : failures, idle)
                }
            }
            var wait = 0
            let delay = delaySeconds(afterFailures: clientFailures)
            if Double(delay) > clientIdle { wait = Int((Double(delay) - clientIdle).rounded(.up)) }
            if emailFailures >= emailBudget && clientFailures > 0 {
                wait = max(wait, Int((Double(emailWindowSeconds) - emailAge).rounded(.up)))
            }
            if wait > 0 { return max(wait, 1) }
            try await db.query(
                """
                UPDATE sign_in_failures SET
                    failures = CASE WHEN client = '*' THEN \(emailFailures + 1) ELSE \(clientFailures + 1) END,
                    window_start = CASE WHEN client = '*' AND \(emailFailures) = 0 THEN now() ELSE window_start END,
                    last_failure_at = now()
                WHERE email = \(email) AND client IN ('*', \(clientKey))
                """, logger: logger)
            return nil
        }
    }

    /// The attempt begun for (email, client) succeeded: it is not a failure, and the client's count is forgotten.
    package func succeeded(email: String, clientKey: String) async throws {
        let email = String(email.prefix(254))
        let clientKey = clientKey == "*" ? "unknown" : String(clientKey.prefix(100))
        try await client.withTransaction(logger: logger) { db in
            try await db.query(
                "UPDATE sign_in_failures SET failures = greatest(failures - 1, 0) WHERE email = \(email) AND client = '*'", logger: logger)
            try await db.query("DELETE FROM sign_in_failures WHERE email = \(email) AND client = \(clientKey)", logger: logger)
        }
    }

    /// Forgets an email's counts (its account is deleted), in the caller's transaction.
    package func forget(email: String, on connection: DatabaseConnection) async throws {
        try await connection.query("DELETE FROM sign_in_failures WHERE email = \(email)", logger: logger)
    }

    /// Deletes counts that no longer hold anything back: a day after their last failure. Returns how many.
    package func purge() async throws -> Int {
        try await client.deleteInBatches(
            """
            WITH gone AS (DELETE FROM sign_in_failures WHERE (email, client) IN (
                SELECT email, client FROM sign_in_failures WHERE last_failure_at < now() - \(forgetAfterSeconds) * interval '1 second' LIMIT 1000)
                RETURNING 1)
            SELECT count(*) FROM gone
            """, batch: 1000, logger: logger)
    }
}
