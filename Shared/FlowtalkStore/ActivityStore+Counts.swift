import Foundation
import Logging
import PostgresNIO

/// The hourly counters statistics are read from (`hourly_counts`; past hours packed in `hourly_packed`).
extension ActivityStore {
    /// The shard a write goes to: one per PostgreSQL session (1…32767, from the backend's process id). A session runs
    /// one transaction at a time, so two concurrent decisions of one busy account practically never add to the same
    /// counter row (sessions whose process ids differ by a multiple of 32,767 share one: a rare wait, not a wrong count) (with 16 random shards, they still did: issue 17). Analytics' hourly
    /// job packs the hours two hours past into `hourly_packed`; readers sum the shards and the packed rows.
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

    /// Packs the counters of hours that ended over `after` ago into one `hourly_packed` row per account and hour (its
    /// metrics and their sums, merged with what an earlier pass packed), in batches; returns how many counter rows were
    /// moved. Rows another transaction holds (an unsend's or an echo's adjustment of an old hour, an account being
    /// deleted) are skipped, not waited for, and packed next time (an account deletion running at the same moment can
    /// still deadlock with a pass — rows, then the account's key — and PostgreSQL then aborts one of the two); a count is moved, never
    /// lost, and a later write to an old hour is packed next time.
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
                        WHERE hour < date_trunc('hour', now()) - \(seconds) * interval '1 second'
                        LIMIT \(batch) FOR UPDATE SKIP LOCKED)
                    RETURNING account_id, hour, metric, count),
                summed AS (SELECT account_id, hour, metric, sum(count)::int8 AS count FROM moved GROUP BY 1, 2, 3),
                packed AS (
                    INSERT INTO hourly_packed (account_id, hour, metrics, counts)
                    SELECT account_id, hour, array_agg(metric ORDER BY metric), array_agg(count ORDER BY metric)
                    FROM summed GROUP BY 1, 2 ORDER BY 1, 2
                    ON CONFLICT (account_id, hour) DO UPDATE SET (metrics, counts) = (
                        SELECT array_agg(metric ORDER BY metric), array_agg(count ORDER BY metric) FROM (
                            SELECT metric, sum(count)::int8 AS count FROM (
                                SELECT * FROM unnest(hourly_packed.metrics, hourly_packed.counts)
                                UNION ALL SELECT * FROM unnest(EXCLUDED.metrics, EXCLUDED.counts)) AS both_(metric, count)
                            GROUP BY metric) AS merged))
                SELECT count(*)::int8 FROM moved
                """, logger: logger
            ).decode(Int64.self) { moved = Int(count) }
            folded += moved
            if moved < batch { return folded }
        }
    }

    /// Sums of the hourly counters per local day of `timeZone`, for `from`…`to` (inclusive, `YYYY-MM-DD`): the packed
    /// hours (one row each, summed here) and the hours still in `hourly_counts`.
    /// Counters are per UTC hour: in a zone whose offset is not a whole hour, an hour is counted on the day it starts.
    package func dailyCounts(accountID: UUID, from: String, to: String, timeZone: String) async throws -> [String: [String: Int]] {
        // Both tables in one snapshot: a packing pass committed between two reads would hide the hours it moved.
        try await client.withTransaction(logger: logger) { db -> [String: [String: Int]] in
            try await db.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
            var days: [String: [String: Int]] = [:]
            // Most packed hours list the same metrics as the hour before: a row brings its names only when they changed
            // (compared for equality in SQL, which is cheap; ordering arrays is not), and its counts as text (decoding
            // ~40 array elements per row cost more than everything else: 90 days are ~2,200 rows). Counts are summed
            // position by position per day and list of names, then named once per list.
            let packed = try await db.query(
                """
                SELECT to_char((hour AT TIME ZONE \(timeZone))::date, 'YYYY-MM-DD'),
                       CASE WHEN metrics IS DISTINCT FROM lag(metrics) OVER (ORDER BY hour) THEN metrics END, counts::text
                FROM hourly_packed
                WHERE account_id = \(accountID)
                  AND hour >= (\(from)::date::timestamp AT TIME ZONE \(timeZone))
                  AND hour < ((\(to)::date + 1)::timestamp AT TIME ZONE \(timeZone))
                ORDER BY hour
                """, logger: logger)
            var lists: [[String]] = []  // the distinct lists of names, numbered in order of appearance
            var numbers: [[String]: Int] = [:]
            var current = -1
            var sums: [String: [Int: [Int]]] = [:]  // day → list number → counts
            for try await (day, names, text) in packed.decode((String, [String]?, String).self) {
                if let names {
                    if let known = numbers[names] { current = known } else {
                        current = lists.count
                        numbers[names] = current
                        lists.append(names)
                    }
                }
                guard current >= 0 else { continue }  // cannot happen: the first row always brings its names
                let counts = Self.integers(text)
                if let total = sums[day]?[current], total.count == counts.count {
                    sums[day]![current] = zip(total, counts).map(+)
                } else {
                    sums[day, default: [:]][current] = counts
                }
            }
            for (day, byList) in sums {
                for (list, counts) in byList {
                    for (metric, count) in zip(lists[list], counts) { days[day, default: [:]][metric, default: 0] += count }
                }
            }
            let recent = try await db.query(
                """
                SELECT to_char((hour AT TIME ZONE \(timeZone))::date, 'YYYY-MM-DD'), metric, sum(count)::int8
                FROM hourly_counts
                WHERE account_id = \(accountID)
                  AND hour >= (\(from)::date::timestamp AT TIME ZONE \(timeZone))
                  AND hour < ((\(to)::date + 1)::timestamp AT TIME ZONE \(timeZone))
                GROUP BY 1, 2
                """, logger: logger)
            for try await (date, metric, count) in recent.decode((String, String, Int64).self) { days[date, default: [:]][metric, default: 0] += Int(count) }
            return days
        }
    }

    /// "{3,-1,12}" → [3, -1, 12] (a bigint array as PostgreSQL writes it).
    static func integers(_ text: String) -> [Int] {
        var values: [Int] = []
        var value = 0
        var negative = false
        var digits = false
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
                digits = true
            case UInt8(ascii: "-"): negative = true
            default:
                if digits { values.append(negative ? -value : value) }
                value = 0
                negative = false
                digits = false
            }
        }
        if digits { values.append(negative ? -value : value) }
        return values
    }
}
