import FlowtalkCore
import FlowtalkDevSupport
import FlowtalkStore
import FlowtalkTesting
import Foundation
import Logging
import PostgresNIO
import Testing

/// Issue 17: the hours that are over have their counters packed into one row each (analytics' hourly job), so
/// the statistics read few rows; the counts stay exactly what they were, and the current hour is left to its writers.
@Suite struct CountFoldingTests {
    static let logger = Logger.quiet("test")

    @Test func pastHoursFoldIntoOneRowAndNothingIsLost() async throws {
        try await TestDatabase.withMigrated { _, client in
            let (vault, _) = TokenVault.testing()
            let account = try await AccountSeeder(client: client, vault: vault, logger: Self.logger).createAccount(
                email: "fold@example.com", instagramUserID: "1", username: "f", token: Secret("t"))
            for shard in 0..<16 {
                try await client.query(
                    """
                    INSERT INTO hourly_counts (account_id, hour, metric, shard, count) VALUES
                        (\(account), date_trunc('hour', now()) - interval '5 hours', 'received', \(Int16(shard)), 2),
                        (\(account), date_trunc('hour', now()) - interval '5 hours', 'latency_le:50', \(Int16(shard)), 1),
                        (\(account), date_trunc('hour', now()), 'received', \(Int16(shard)), 3)
                    """, logger: Self.logger)
            }
            let store = ActivityStore(client: Database(client), logger: Self.logger)
            let today = try await store.today(timeZone: "UTC")
            let before = try await store.dailyCounts(accountID: account, from: "2000-01-01", to: today, timeZone: "UTC")
            #expect(try await store.compactCounts(batch: 7) == 32)
            #expect(try await store.dailyCounts(accountID: account, from: "2000-01-01", to: today, timeZone: "UTC") == before)
            var rows: [String: Int64] = [:]
            for try await (old, shards) in try await client.query(
                "SELECT hour < date_trunc('hour', now()), count(*)::int8 FROM hourly_counts WHERE account_id = \(account) GROUP BY 1", logger: Self.logger
            ).decode((Bool, Int64).self) { rows[old ? "past" : "current"] = shards }
            #expect(rows == ["current": 16], "the past hour left hourly_counts; the current one is its writers'")
            #expect(try await packed(client, account) == [["latency_le:50", "received"]: [16, 32]])
            // A late write to the packed hour (an unsend taking a count back, a new metric) is merged into its row.
            try await client.query(
                """
                INSERT INTO hourly_counts (account_id, hour, metric, shard, count) VALUES
                    (\(account), date_trunc('hour', now()) - interval '5 hours', 'received', 3, -1),
                    (\(account), date_trunc('hour', now()) - interval '5 hours', 'failed', 3, 2)
                """, logger: Self.logger)
            #expect(try await store.compactCounts() == 2)
            #expect(try await packed(client, account) == [["failed", "latency_le:50", "received"]: [2, 16, 31]])
            #expect(try await unhashed(client) == 0, "the merged row's hash and bytes are its new list's and counts")
            #expect(try await store.dailyCounts(accountID: account, from: "2000-01-01", to: today, timeZone: "UTC")[
                String(before.keys.sorted().first!)]?["failed"] == 2)
            #expect(try await store.compactCounts() == 0)
        }
    }

    /// Three days of hours with different sets of metrics (so several shapes of packed row share a day): the daily sums
    /// in three time zones are the same before and after packing.
    @Test func packedHoursSumToTheSameDaysInAnyTimeZone() async throws {
        try await TestDatabase.withMigrated { _, client in
            let (vault, _) = TokenVault.testing()
            let account = try await AccountSeeder(client: client, vault: vault, logger: Self.logger).createAccount(
                email: "days@example.com", instagramUserID: "3", username: "d", token: Secret("t"))
            try await client.query(
                """
                INSERT INTO hourly_counts (account_id, hour, metric, shard, count)
                SELECT \(account), h, m, s, (extract(hour FROM h)::int % 5) + s + 1
                FROM generate_series(date_trunc('hour', now()) - interval '3 days', date_trunc('hour', now()), interval '1 hour') AS h,
                     unnest(ARRAY['received', 'replied_rule', 'failed', 'latency_le:50']) AS m, generate_series(1, 3) AS s
                WHERE m IN ('received', 'replied_rule') OR extract(hour FROM h)::int % (CASE m WHEN 'failed' THEN 3 ELSE 7 END) = 0
                """, logger: Self.logger)
            let store = ActivityStore(client: Database(client), logger: Self.logger)
            let zones = ["UTC", "Europe/Paris", "Asia/Kolkata"]
            var before: [[String: [String: Int]]] = []
            for zone in zones { before.append(try await store.dailyCounts(accountID: account, from: "2000-01-01", to: "2100-01-01", timeZone: zone)) }
            #expect(try await store.compactCounts() > 0)
            var shapes = 0
            for try await n in try await client.query("SELECT count(DISTINCT metrics)::int8 FROM hourly_packed", logger: Self.logger).decode(Int64.self) {
                shapes = Int(n)
            }
            #expect(shapes >= 3, "hours with different metrics")
            #expect(try await unhashed(client) == 0)
            for (zone, expected) in zip(zones, before) {
                #expect(try await store.dailyCounts(accountID: account, from: "2000-01-01", to: "2100-01-01", timeZone: zone) == expected, "\(zone)")
            }
            // Rows packed before migration 29 have neither hash nor bytes: read the same, mixed with rows that have them.
            try await client.query(
                "UPDATE hourly_packed SET names_hash = NULL, counts_bytes = NULL WHERE extract(hour FROM hour)::int % 2 = 0", logger: Self.logger)
            for (zone, expected) in zip(zones, before) {
                #expect(try await store.dailyCounts(accountID: account, from: "2000-01-01", to: "2100-01-01", timeZone: zone) == expected, "\(zone), unhashed rows")
            }
            // The hourly job's rewrite fills them in.
            let underived = try await unhashed(client)
            #expect(underived > 0)
            #expect(try await store.deriveOldPackedRows(batch: 3) == Int(underived))
            #expect(try await unhashed(client) == 0)
            #expect(try await store.deriveOldPackedRows() == 0)
            #expect(try await store.dailyCounts(accountID: account, from: "2000-01-01", to: "2100-01-01", timeZone: "UTC") == before[0])
            // A writer that knows only `metrics` and `counts` (a replica of the previous version merging a late count):
            // the trigger keeps the hash and the bytes right, and the statistics see the change.
            try await client.query(
                "UPDATE hourly_packed SET counts = (SELECT array_agg(c + 1 ORDER BY i) FROM unnest(counts) WITH ORDINALITY AS u(c, i))",
                logger: Self.logger)
            #expect(try await unhashed(client) == 0)
            let total = { (days: [String: [String: Int]]) in days.values.reduce(0) { $0 + $1.values.reduce(0, +) } }
            var cells = 0
            for try await n in try await client.query("SELECT sum(cardinality(counts))::int8 FROM hourly_packed", logger: Self.logger).decode(Int64.self) {
                cells = Int(n)
            }
            #expect(try await total(store.dailyCounts(accountID: account, from: "2000-01-01", to: "2100-01-01", timeZone: "UTC")) == total(before[0]) + cells)
        }
    }

    /// How many packed rows lack the hash of their list of names or their counts as bytes, or have others'.
    func unhashed(_ client: PostgresClient) async throws -> Int64 {
        var count: Int64 = -1
        for try await n in try await client.query(
            """
            SELECT count(*)::int8 FROM hourly_packed
            WHERE names_hash IS DISTINCT FROM hash_array_extended(metrics, 0)
               OR counts_bytes IS DISTINCT FROM (SELECT string_agg(int8send(c), ''::bytea ORDER BY i) FROM unnest(counts) WITH ORDINALITY AS u(c, i))
            """, logger: Self.logger
        ).decode(Int64.self) { count = n }
        return count
    }

    /// The packed rows of an account: metrics → counts.
    func packed(_ client: PostgresClient, _ account: UUID) async throws -> [[String]: [Int64]] {
        var rows: [[String]: [Int64]] = [:]
        for try await (metrics, counts) in try await client.query(
            "SELECT metrics, counts FROM hourly_packed WHERE account_id = \(account)", logger: Self.logger
        ).decode(([String], [Int64]).self) { rows[metrics] = counts }
        return rows
    }

    /// Concurrent decisions of one busy account count in their own sessions' shards: twenty transactions that each
    /// counted the same metrics and hold their locks until all twenty have counted all get there (with 16 random shards,
    /// at least two shared a row and the later one waited for the other's commit: issue 17).
    @Test func concurrentTransactionsOfOneAccountDoNotWaitOnEachOthersCounters() async throws {
        try await TestDatabase.withMigrated { _, client in
            let (vault, _) = TokenVault.testing()
            let account = try await AccountSeeder(client: client, vault: vault, logger: Self.logger).createAccount(
                email: "busy@example.com", instagramUserID: "2", username: "b", token: Secret("t"))
            let store = ActivityStore(client: Database(client), logger: Self.logger)
            let counted = Counter()
            let writers = 20
            let reached = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<writers {
                    group.addTask {
                        try await store.client.withTransaction(logger: Self.logger) { db in
                            // A wait on another writer's row would end in an error here instead of a hang.
                            try await db.query("SET LOCAL lock_timeout = '5s'", logger: Self.logger)
                            try await store.count(["received", "replied_rule"], accountID: account, on: db)
                            await counted.add()
                            for _ in 0..<1_000 where await counted.value < writers { try await Task.sleep(for: .milliseconds(10)) }
                            return await counted.value == writers
                        }
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(reached == writers, "every writer counted while the others held their transactions open")
            let today = try await store.today(timeZone: "UTC")
            let counts = try await store.dailyCounts(accountID: account, from: today, to: today, timeZone: "UTC")
            #expect(counts[today]?["received"] == writers && counts[today]?["replied_rule"] == writers)
        }
    }
}

actor Counter {
    private(set) var value = 0
    func add() { value += 1 }
}
