import FlowtalkStore
import FlowtalkTesting
import Foundation
import Logging
import PostgresNIO
import Testing

/// Issue 12: anyone could lock any owner out (every attempt for an email counted, the owner's correct one included).
@Suite struct SignInThrottleTests {
    func throttle(_ client: PostgresClient) -> SignInThrottle { SignInThrottle(client: Database(client), logger: .quiet("throttle")) }

    /// Moves a client's last failure `seconds` into the past, as if it had waited that long.
    func wait(_ client: PostgresClient, _ seconds: Int, email: String, clientKey: String) async throws {
        let sql = "UPDATE sign_in_failures SET last_failure_at = last_failure_at - \(seconds) * interval '1 second' WHERE email = '\(email)' AND client = '\(clientKey)'"
        for try await _ in try await Database(client).query(PostgresQuery(unsafeSQL: sql + " RETURNING 1"), logger: .quiet("q")).decode(Int.self) {}
    }

    /// One client guessing one email: three free failures, then it waits 1, 2, 4 … times the first wait after each further
    /// failure (a first wait of a minute here, and time moved on in the table, so no machine is slow enough to outrun it).
    @Test func oneClientsFailuresWaitLongerEachTime() async throws {
        try await TestDatabase.withMigrated { _, client in
            var throttle = throttle(client)
            throttle.baseDelaySeconds = 60
            for _ in 0..<3 { #expect(try await throttle.begin(email: "owner@shop.com", clientKey: "203.0.113.7") == nil) }
            var waits: [Int] = []
            for _ in 0..<3 {
                let wait = try #require(try await throttle.begin(email: "owner@shop.com", clientKey: "203.0.113.7"))
                waits.append(wait)
                try await self.wait(client, wait - 2, email: "owner@shop.com", clientKey: "203.0.113.7")
                #expect(try await throttle.begin(email: "owner@shop.com", clientKey: "203.0.113.7") != nil)  // not quite yet
                try await self.wait(client, 3, email: "owner@shop.com", clientKey: "203.0.113.7")
                #expect(try await throttle.begin(email: "owner@shop.com", clientKey: "203.0.113.7") == nil)  // another failure
            }
            #expect(zip(waits, [60, 120, 240]).allSatisfy { $0 <= $1 && $0 > $1 - 10 }, "\(waits)")
            // Another client, and the same client for another email, are not held back by it.
            #expect(try await throttle.begin(email: "owner@shop.com", clientKey: "198.51.100.1") == nil)
            #expect(try await throttle.begin(email: "other@shop.com", clientKey: "203.0.113.7") == nil)
            // Failures are forgotten a day after the last one.
            try await self.wait(client, 86_400, email: "owner@shop.com", clientKey: "203.0.113.7")
            for _ in 0..<3 { #expect(try await throttle.begin(email: "owner@shop.com", clientKey: "203.0.113.7") == nil) }
        }
    }

    /// Only failures count: a client that signs in correctly a hundred times is never slowed down.
    @Test func successesAreNotCounted() async throws {
        try await TestDatabase.withMigrated { _, client in
            let throttle = throttle(client)
            for _ in 0..<100 {
                #expect(try await throttle.begin(email: "busy@shop.com", clientKey: "192.0.2.1") == nil)
                try await throttle.succeeded(email: "busy@shop.com", clientKey: "192.0.2.1")
            }
            // And a success forgets the client's earlier failures.
            for _ in 0..<3 { #expect(try await throttle.begin(email: "busy@shop.com", clientKey: "192.0.2.1") == nil) }
            try await throttle.succeeded(email: "busy@shop.com", clientKey: "192.0.2.1")
            #expect(try await throttle.begin(email: "busy@shop.com", clientKey: "192.0.2.1") == nil)
        }
    }

    /// Guessing from many clients is bounded per email: past the budget, a client that has failed once waits for the
    /// hour to end; the owner's browser, which has not failed, still gets in.
    @Test func manyClientsAreBoundedButTheOwnersCleanClientIsNot() async throws {
        try await TestDatabase.withMigrated { _, client in
            var throttle = throttle(client)
            throttle.emailBudget = 20
            for bot in 0..<20 { #expect(try await throttle.begin(email: "owner@shop.com", clientKey: "10.0.\(bot).1") == nil) }
            // Past the budget, every bot that has failed once waits for the window, whatever it tries.
            let wait = try #require(try await throttle.begin(email: "owner@shop.com", clientKey: "10.0.3.1"))
            #expect(wait > 60 && wait <= 3600)
            // A fresh bot gets one try, then it waits like the others.
            #expect(try await throttle.begin(email: "owner@shop.com", clientKey: "10.0.99.1") == nil)
            #expect(try await throttle.begin(email: "owner@shop.com", clientKey: "10.0.99.1") != nil)
            // The owner, from a client that has not failed, is never refused.
            #expect(try await throttle.begin(email: "owner@shop.com", clientKey: "198.51.100.23") == nil)
            try await throttle.succeeded(email: "owner@shop.com", clientKey: "198.51.100.23")
            #expect(try await throttle.begin(email: "owner@shop.com", clientKey: "198.51.100.23") == nil)
        }
    }

    /// Parallel attempts cannot outrun the count: each is counted before its password is checked.
    @Test func parallelGuessesAreCountedBeforeTheyAreChecked() async throws {
        try await TestDatabase.withMigrated { _, client in
            var configured = throttle(client)
            configured.baseDelaySeconds = 60
            let throttle = configured
            let allowed = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<30 { group.addTask { try await throttle.begin(email: "race@shop.com", clientKey: "203.0.113.9") == nil } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(allowed == 3)
        }
    }
}
