import FlowtalkStore
import FlowtalkTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import PostgresNIO
import Testing

@testable import AuthService

/// Issue 12: expired sessions, OAuth states and rate-limit rows were never purged.
@Suite struct HousekeepingTests {
    func number(_ client: PostgresClient, _ sql: String) async throws -> Int {
        var n = 0
        for try await value in try await Database(client).query(PostgresQuery(unsafeSQL: sql), logger: .quiet("q")).decode(Int.self) { n = value }
        return n
    }

    @Test func theHourlyPurgeDeletesWhatCanNeverBeUsedAgainAndNothingElse() async throws {
        try await withAuth { client, database in
            let live = Browser(client)
            try await live.signUpAndIn("live@shop.com")
            let gone = Browser(client)
            try await gone.signUpAndIn("gone@shop.com")
            try await live.verifyEmail("live@shop.com", Mailbox(database: database))
            try await gone.verifyEmail("gone@shop.com", Mailbox(database: database))
            #expect(try await gone.send(.post, "/api/instagram/connect", "{}").status == .ok)
            #expect(try await live.send(.post, "/api/instagram/connect", "{}").status == .ok)
            _ = try await Browser(client).send(.post, "/api/auth/login", #"{"email":"live@shop.com","password":"a wrong guess here"}"#)
            #expect(try await Browser(client).send(.post, "/api/auth/password-reset", #"{"email":"gone@shop.com"}"#).status == .accepted)
            try await database.withClient { pg in
                // The auth service queued and ran this hour's purge by itself once it started.
                try await eventually("auth's first purge") {
                    let scheduled = try await number(pg, "SELECT count(*)::int FROM job_dedupe WHERE key LIKE 'auth_purge:%'")
                    let pending = try await number(pg, "SELECT count(*)::int FROM jobs WHERE kind = 'auth.purge'")
                    return scheduled == 1 && pending == 0
                }
                // Age one of each kind of row past its end.
                let goneID = "(SELECT id FROM accounts WHERE email = 'gone@shop.com')"
                for sql in [
                    "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE account_id = \(goneID)",
                    "UPDATE oauth_states SET expires_at = now() - interval '1 second' WHERE account_id = \(goneID)",
                    "UPDATE rate_limits SET window_start = now() - interval '2 days' WHERE key LIKE 'signup:%'",
                    "UPDATE sign_in_failures SET last_failure_at = now() - interval '2 days'",
                    "UPDATE account_tokens SET expires_at = now() - interval '1 second' WHERE account_id = \(goneID)",
                ] { _ = try await number(pg, "WITH u AS (\(sql) RETURNING 1) SELECT count(*)::int FROM u") }
                let housekeeping = Housekeeping(database: Database(pg), queue: JobQueue(client: Database(pg), logger: .quiet("q")), logger: .quiet("h"))
                let purged = try await housekeeping.purge()
                #expect(purged.sessions == 1 && purged.oauthStates == 1 && purged.rateLimits >= 1 && purged.signInFailures == 3)
                #expect(purged.links == 1)
                #expect(try await number(pg, "SELECT count(*)::int FROM sessions") == 1)
                #expect(try await number(pg, "SELECT count(*)::int FROM oauth_states") == 1)
                #expect(try await number(pg, "SELECT count(*)::int FROM sign_in_failures") == 0)
            }
            // What was still valid is untouched: the live session works, the expired one does not.
            #expect(try await live.send(.get, "/api/auth/me").status == .ok)
            #expect(try await gone.send(.get, "/api/auth/me").status == .unauthorized)
        }
    }
}
