import Foundation
import Logging
import NIOCore
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
        // Both tables in one statement, so one snapshot (a packing pass committed between two reads would hide the
        // hours it moved) and one round trip. First come the days' first instants in the zone, then the packed hours in
        // order (each falls on the last day begun at or before it: no date arithmetic per row), then the hours still in
        // `hourly_counts`, summed per day and metric. Most packed hours list the same metrics as the hour before: a row
        // brings its names only when they changed (compared for equality in SQL, which is cheap; ordering arrays is
        // not), and its counts in PostgreSQL's binary array form, added straight into the day's sums (decoding ~40
        // elements per row as [Int64] cost more than everything else: 90 days are ~2,200 rows; as text, PostgreSQL's
        // formatting did). Counts are summed position by position per day and list of names, then named once per list.
        let rows = try await client.query(
            """
            SELECT 0, (day AT TIME ZONE \(timeZone)), to_char(day, 'YYYY-MM-DD'), NULL::text[], NULL::int8[], NULL::text, 0::int8
            FROM generate_series(\(from)::date::timestamp, \(to)::date::timestamp, interval '1 day') AS day
            UNION ALL
            SELECT 1, hour, NULL, CASE WHEN metrics IS DISTINCT FROM lag(metrics) OVER (ORDER BY hour) THEN metrics END, counts, NULL, 0
            FROM hourly_packed
            WHERE account_id = \(accountID)
              AND hour >= (\(from)::date::timestamp AT TIME ZONE \(timeZone))
              AND hour < ((\(to)::date + 1)::timestamp AT TIME ZONE \(timeZone))
            UNION ALL
            SELECT 2, NULL, to_char((hour AT TIME ZONE \(timeZone))::date, 'YYYY-MM-DD'), NULL, NULL, metric, sum(count)::int8
            FROM hourly_counts
            WHERE account_id = \(accountID)
              AND hour >= (\(from)::date::timestamp AT TIME ZONE \(timeZone))
              AND hour < ((\(to)::date + 1)::timestamp AT TIME ZONE \(timeZone))
            GROUP BY 3, 6
            ORDER BY 1, 2
            """, logger: logger)
        var days: [String: [String: Int]] = [:]
        var starts: [(start: Date, day: String)] = []
        var day = -1  // the day the packed hours have reached
        var lists: [[String]] = []  // the distinct lists of names, numbered in order of appearance
        var numbers: [[String]: Int] = [:]
        var current = -1
        var sums: [[Int: [Int]]] = []  // day → list number → counts
        for try await (part, instant, label, names, array, metric, count) in rows.decode(
            (Int32, Date?, String?, [String]?, ByteBuffer?, String?, Int64).self)
        {
            switch part {
            case 0:
                if let instant, let label { starts.append((instant, label)) }
                sums.append([:])
            case 1:
                guard let instant, let array else { continue }
                while day + 1 < starts.count, starts[day + 1].start <= instant { day += 1 }
                if let names {
                    if let known = numbers[names] { current = known } else {
                        current = lists.count
                        numbers[names] = current
                        lists.append(names)
                    }
                }
                guard day >= 0, current >= 0 else { continue }  // cannot happen: the range starts a day, the first row has names
                try Self.add(binaryArray: array, to: &sums[day][current, default: []])
            default:
                if let label, let metric { days[label, default: [:]][metric, default: 0] += Int(count) }
            }
        }
        for (index, byList) in sums.enumerated() where index < starts.count {
            for (list, counts) in byList {
                for (metric, count) in zip(lists[list], counts) { days[starts[index].day, default: [:]][metric, default: 0] += count }
            }
        }
        return days
    }

    /// Adds a bigint[] in PostgreSQL's binary form (one dimension, no NULLs, as `hourly_packed.counts` always is) to
    /// `sums`, position by position.
    static func add(binaryArray: ByteBuffer, to sums: inout [Int]) throws {
        var buffer = binaryArray
        guard let dimensions = buffer.readInteger(as: Int32.self), let flags = buffer.readInteger(as: Int32.self),
            let element = buffer.readInteger(as: UInt32.self)
        else { throw PackedCountsUnreadable() }
        if dimensions == 0 { return }  // an empty array
        guard dimensions == 1, flags == 0, element == 20, let count = buffer.readInteger(as: Int32.self), count >= 0,
            buffer.readInteger(as: Int32.self) != nil
        else { throw PackedCountsUnreadable() }
        if sums.count < Int(count) { sums.append(contentsOf: repeatElement(0, count: Int(count) - sums.count)) }
        for index in 0..<Int(count) {
            guard buffer.readInteger(as: Int32.self) == 8, let value = buffer.readInteger(as: Int64.self) else { throw PackedCountsUnreadable() }
            sums[index] += Int(value)
        }
    }
}

/// A packed row's counts were not the one-dimensional bigint[] without NULLs they always are.
struct PackedCountsUnreadable: Error {}
