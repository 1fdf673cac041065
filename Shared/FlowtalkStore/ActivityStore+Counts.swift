import Foundation
import Logging
import PostgresNIO

/// The hourly counters statistics are read from (`hourly_counts`).
extension ActivityStore {
    /// The shard a write goes to: one per PostgreSQL session (1…32767, from the backend's process id). A session runs
    /// one transaction at a time, so two concurrent decisions of one busy account never add to the same counter row and
    /// never wait on each other's row lock (with 16 random shards, they still did: issue 17). Shard 0 holds what
    /// analytics' hourly job folded; readers sum all shards.
    static let sessionShard = "(1 + pg_backend_pid() % 32767)::int2"

    /// Adds to this hour's counters (`received`, `replied_rule`, `skipped:<reason>`, `rule:<id>`, …), in this session's
    /// shard, so concurrent decisions of one busy account do not wait on each other.
    package func count(_ metrics: [String], accountID: UUID, on connection: DatabaseConnection) async throws {
        guard !metrics.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO hourly_counts (account_id, hour, metric, shard, count)
            SELECT \(accountID), date_trunc('hour', now()), metric, \(unescaped: Self.sessionShard), count(*) FROM unnest(\(metrics)::text[]) AS m(metric)
            GROUP BY metric ORDER BY metric
            ON CONFLICT (account_id, hour, metric, shard) DO UPDATE SET count = hourly_counts.count + EXCLUDED.count
            """, logger: logger)
    }

    /// Adds to (or, with a negative delta, takes back from) the counters of the hour of `time`, in this session's shard.
    package func adjust(_ deltas: [String: Int], accountID: UUID, at time: Date = Date(), on connection: DatabaseConnection) async throws {
        guard !deltas.isEmpty else { return }
        let metrics = deltas.keys.sorted()
        try await connection.query(
            """
            INSERT INTO hourly_counts (account_id, hour, metric, shard, count)
            SELECT \(accountID), date_trunc('hour', \(time)::timestamptz), metric, \(unescaped: Self.sessionShard), delta
            FROM unnest(\(metrics)::text[], \(metrics.map { Int64(deltas[$0]!) })::int8[]) AS d(metric, delta)
            ON CONFLICT (account_id, hour, metric, shard) DO UPDATE SET count = hourly_counts.count + EXCLUDED.count
            """, logger: logger)
    }

    /// Folds the counter shards of hours that ended over `after` ago into shard 0 (one row per account, hour and metric),
    /// in batches; returns how many shard rows were folded. Rows another transaction holds (an unsend's or an echo's
    /// adjustment of an old hour, an account being deleted) are skipped, not waited for (no lock-order deadlock), and
    /// folded next time; a count is moved, never lost, and a later write is folded next time.
    package func compactCounts(after: Duration = .seconds(7_200), batch: Int = 20_000) async throws -> Int {
        let seconds = Int(after.components.seconds)
        var folded = 0
        while true {
            var moved = 0
            for try await count in try await client.query(
                """
                WITH moved AS (
                    DELETE FROM hourly_counts WHERE (account_id, hour, metric, shard) IN (
                        SELECT account_id, hour, metric, shard FROM hourly_counts
                        WHERE shard > 0 AND hour < date_trunc('hour', now()) - \(seconds) * interval '1 second'
                        LIMIT \(batch) FOR UPDATE SKIP LOCKED)
                    RETURNING account_id, hour, metric, count),
                folded AS (
                    INSERT INTO hourly_counts (account_id, hour, metric, shard, count)
                    SELECT account_id, hour, metric, 0, sum(count) FROM moved GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                    ON CONFLICT (account_id, hour, metric, shard) DO UPDATE SET count = hourly_counts.count + EXCLUDED.count)
                SELECT count(*)::int8 FROM moved
                """, logger: logger
            ).decode(Int64.self) { moved = Int(count) }
            folded += moved
            if moved < batch { return folded }
        }
    }

    /// Sums of the hourly counters per local day of `timeZone`, for `from`…`to` (inclusive, `YYYY-MM-DD`).
    /// Counters are per UTC hour: in a zone whose offset is not a whole hour, an hour is counted on the day it starts.
    package func dailyCounts(accountID: UUID, from: String, to: String, timeZone: String) async throws -> [String: [String: Int]] {
        let rows = try await client.query(
            """
            SELECT to_char((hour AT TIME ZONE \(timeZone))::date, 'YYYY-MM-DD'), metric, sum(count)::int8
            FROM hourly_counts
            WHERE account_id = \(accountID)
              AND hour >= (\(from)::date::timestamp AT TIME ZONE \(timeZone))
              AND hour < ((\(to)::date + 1)::timestamp AT TIME ZONE \(timeZone))
            GROUP BY 1, 2
            """, logger: logger)
        var days: [String: [String: Int]] = [:]
        for try await (day, metric, count) in rows.decode((String, String, Int64).self) { days[day, default: [:]][metric] = Int(count) }
        return days
    }
}
