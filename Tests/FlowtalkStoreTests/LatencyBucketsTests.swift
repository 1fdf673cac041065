import FlowtalkContracts
import FlowtalkCore
import FlowtalkDevSupport
import FlowtalkStore
import FlowtalkTesting
import Foundation
import Logging
import PostgresNIO
import Testing

/// Issue 17, item 4: latency percentiles from hourly bucket counts. Migration 25 gives the replies already in the
/// activity log their buckets, so the statistics say the same before and after the upgrade.
@Suite struct LatencyBucketsTests {
    static let logger = Logger.quiet("test")

    @Test func theUpgradeBucketsTheRepliesAlreadyLogged() async throws {
        try await TestDatabase.withFresh { database in
            try await database.withClient { client in
                _ = try await Migrator.apply(FlowtalkMigrations.all.filter { $0.version < 25 }, client: client, logger: Self.logger)
                let (vault, _) = TokenVault.testing()
                let seeder = AccountSeeder(client: client, vault: vault, logger: Self.logger)
                let account = try await seeder.createAccount(email: "b@example.com", instagramUserID: "1", username: "b", token: Secret("t"))
                for latency in [10, 20, 30, 40, 1000] {
                    try await client.query(
                        """
                        INSERT INTO activity (account_id, occurred_at, customer_id, event_kind, outcome, latency_ms)
                        VALUES (\(account), '2026-11-10 12:30:00+00', 'c', 'message', 'replied', \(latency))
                        """, logger: Self.logger)
                }
                try await client.query(
                    "INSERT INTO activity (account_id, occurred_at, customer_id, event_kind, outcome) VALUES (\(account), now(), 'c', 'message', 'skipped')",
                    logger: Self.logger)
                #expect(try await Migrator.apply(FlowtalkMigrations.all, client: client, logger: Self.logger) == FlowtalkMigrations.all.map(\.version).filter { $0 >= 25 })
                var counts: [String: Int] = [:]
                for try await (metric, count) in try await client.query(
                    "SELECT metric, sum(count)::int8 FROM hourly_counts WHERE account_id = \(account) AND hour = '2026-11-10 12:00:00+00' GROUP BY metric",
                    logger: Self.logger
                ).decode((String, Int64).self) { counts[metric] = Int(count) }
                #expect(counts == ["latency_le:10": 1, "latency_le:20": 1, "latency_le:30": 1, "latency_le:50": 1, "latency_le:1000": 1])
            }
        }
    }

    @Test func percentilesAreInterpolatedWithinTheirBucket() {
        let counts = ["latency_le:10": 1, "latency_le:20": 1, "latency_le:30": 1, "latency_le:50": 1, "latency_le:1000": 1, "received": 9]
        let (values, samples) = LatencyHistogram.percentiles([0.5, 0.95], in: counts)
        #expect(samples == 5 && values[0] == 25 && values[1] == 937.5)
        #expect(LatencyHistogram.percentiles([0.5], in: ["latency_le:inf": 3]).values == [60_000])
        #expect(LatencyHistogram.percentiles([0.5], in: [:]).values == [nil])
        #expect(LatencyHistogram.metric(7) == "latency_le:10" && LatencyHistogram.metric(10) == "latency_le:10" && LatencyHistogram.metric(61_000) == "latency_le:inf")
    }
}
