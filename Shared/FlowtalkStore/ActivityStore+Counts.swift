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
    /// metrics and their sums, merged with what an earlier pass packed; a trigger derives the row's hash and bytes), in
    /// batches; returns how many counter rows were moved. Rows another transaction holds (an unsend's or an echo's adjustment of an old hour, an account being
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

    /// Rewrites rows packed before migration 29 so the trigger derives their hash and bytes, `batch` per statement, at
    /// most `limit` per call (the rest next time); rows another transaction holds are skipped. Returns how many.
    package func deriveOldPackedRows(batch: Int = 2_000, limit: Int = 50_000) async throws -> Int {
        var done = 0
        while done < limit {
            var rewritten = 0
            for try await count in try await client.query(
                """
                WITH rewritten AS (
                    UPDATE hourly_packed SET metrics = metrics
                    WHERE ctid = ANY (ARRAY(
                        SELECT ctid FROM hourly_packed WHERE names_hash IS NULL OR counts_bytes IS NULL
                        LIMIT \(batch) FOR UPDATE SKIP LOCKED))
                    RETURNING 1)
                SELECT count(*)::int8 FROM rewritten
                """, logger: logger
            ).decode(Int64.self) { rewritten = Int(count) }
            done += rewritten
            if rewritten < batch { break }
        }
        return done
    }

    /// The hash a packed hour's list of metric names is known by (`hourly_packed.names_hash`, which a trigger derives
    /// from `metrics` on every write: migration 29), of the `text[]` expression `names`. 64 bits: two different lists of
    /// one account in one range sharing a hash (odds about n²/2⁶⁵ for n lists; names are server-made, not chosen by
    /// customers) would be read as one: with different lengths the statistics fail with an error (the sums are kept per
    /// hash and length, and a length must match its list's), with the same length one list's counts would carry the
    /// other's names.
    static func namesHash(_ names: String) -> String { "hash_array_extended(\(names), 0)" }

    /// `hourly_packed.counts_bytes` (big-endian 64-bit integers side by side, in the order of the names) made from
    /// `counts`, for rows packed before migration 29; the trigger writes the same for every row since.
    static let legacyCountsBytes = "(SELECT string_agg(int8send(c), ''::bytea ORDER BY i) FROM unnest(counts) WITH ORDINALITY AS u(c, i))"

    /// Sums of the hourly counters per local day of `timeZone`, for `from`…`to` (inclusive, `YYYY-MM-DD`): the packed
    /// hours (one row each, summed here) and the hours still in `hourly_counts`.
    /// Counters are per UTC hour: in a zone whose offset is not a whole hour, an hour is counted on the day it starts.
    package func dailyCounts(accountID: UUID, from: String, to: String, timeZone: String) async throws -> [String: [String: Int]] {
        // Both tables in one statement, so one snapshot (a packing pass committed between two reads would hide the
        // hours it moved) and one round trip. The days' first instants in the zone are computed once (`days`: as
        // conditions on each row, parsing the dates and looking up the zone cost more than the rest), and every
        // hour is placed on the last day begun at or before it by a binary search among them (`width_bucket`: no date
        // arithmetic per row). The parts: the days' names; the packed hours' counts per day and list of names (known by
        // its hash), the hours' bytes one after the other (PostgreSQL sending a bigint[] calls a function per element,
        // and decoding a row here costs microseconds: 90 days are ~2,200 hours of ~40 counts, ~90 rows this way); each
        // list of names in range once, by its hash (found through one row version per hash, in the same snapshot); and
        // the hours still in `hourly_counts`, summed per day and metric. Nothing compares or orders the arrays of names
        // (a window over the rows in hour order was most of the statement's time), and the rows may come in any order:
        // counts are added into the day's sums per list, then named once per day and list. Rows packed before
        // migration 29 are hashed and turned into bytes here.
        let packedHash = "coalesce(names_hash, \(Self.namesHash("metrics")))"
        let rows = try await client.query(
            """
            WITH days AS MATERIALIZED (
                SELECT array_agg(day AT TIME ZONE \(timeZone) ORDER BY day) AS starts, array_agg(to_char(day, 'YYYY-MM-DD') ORDER BY day) AS names,
                       min(day AT TIME ZONE \(timeZone)) AS first, (max(day) + interval '1 day') AT TIME ZONE \(timeZone) AS after
                FROM generate_series(\(from)::date::timestamp, \(to)::date::timestamp, interval '1 day') AS day)
            SELECT 0, 0, 0::int8, NULL::bytea, names, NULL::text, 0::int8 FROM days
            UNION ALL
            SELECT 1, width_bucket(hour, (SELECT starts FROM days)), \(unescaped: packedHash),
                   string_agg(coalesce(counts_bytes, \(unescaped: Self.legacyCountsBytes)), ''::bytea), NULL, NULL, cardinality(counts)
            FROM hourly_packed
            WHERE account_id = \(accountID) AND hour >= (SELECT first FROM days) AND hour < (SELECT after FROM days)
            GROUP BY 2, 3, 7
            UNION ALL
            SELECT 2, 0, \(unescaped: packedHash), NULL, metrics, NULL, 0
            FROM hourly_packed
            WHERE ctid = ANY (ARRAY(
                SELECT min(ctid) FROM hourly_packed
                WHERE account_id = \(accountID)
                  AND hour >= (SELECT first FROM days) AND hour < (SELECT after FROM days)
                GROUP BY \(unescaped: packedHash)))
            UNION ALL
            SELECT 3, width_bucket(hour, (SELECT starts FROM days)), 0, NULL, NULL, metric, sum(count)::int8
            FROM hourly_counts
            WHERE account_id = \(accountID)
              AND hour >= (SELECT first FROM days) AND hour < (SELECT after FROM days)
            GROUP BY 2, 6
            """, logger: logger)
        var labels: [String] = []  // day number - 1 → YYYY-MM-DD
        var lists: [Int64: [String]] = [:]  // hash → the list of names
        var sums: [Int: [ListKey: [Int]]] = [:]  // day number → list (hash, length) → counts, position by position
        var recent: [Int: [String: Int]] = [:]  // day number → metric → count, from hourly_counts
        for try await (part, day, hash, bytes, names, metric, count) in rows.decode(
            (Int32, Int32, Int64, ByteBuffer?, [String]?, String?, Int64).self)
        {
            switch part {
            case 0: labels = names ?? []
            case 1:
                if let bytes {
                    let list = ListKey(hash: hash, length: Int(count))
                    try Self.add(bigEndianCounts: bytes, stride: list.length, to: &sums[Int(day), default: [:]][list, default: []])
                }
            case 2: if let names { lists[hash] = names }
            default: if let metric { recent[Int(day), default: [:]][metric, default: 0] += Int(count) }
            }
        }
        // Day numbers run from 1 (the range begins at the first day's first instant, so no row falls before it).
        func label(_ day: Int) throws -> String {
            guard day >= 1, day <= labels.count else { throw PackedCountsUnreadable() }
            return labels[day - 1]
        }
        var days: [String: [String: Int]] = [:]
        for (day, byList) in sums {
            let name = try label(day)
            for (list, counts) in byList {
                // Every list in range was read in the same snapshot, and a row's counts are as many as its names.
                guard let names = lists[list.hash], list.length == names.count else { throw PackedCountsUnreadable() }
                for (metric, count) in zip(names, counts) { days[name, default: [:]][metric, default: 0] += count }
            }
        }
        for (day, metrics) in recent {
            let name = try label(day)
            for (metric, count) in metrics { days[name, default: [:]][metric, default: 0] += count }
        }
        return days
    }

    /// Adds the `hourly_packed.counts_bytes` of one or more hours with the same list of names, one after the other
    /// (big-endian 64-bit integers, `stride` per hour), to `sums`, position by position.
    static func add(bigEndianCounts: ByteBuffer, stride: Int, to sums: inout [Int]) throws {
        var buffer = bigEndianCounts
        if stride == 0, buffer.readableBytes == 0 { return }  // hours without metrics (never packed, but harmless)
        guard stride > 0, buffer.readableBytes % (8 * stride) == 0 else { throw PackedCountsUnreadable() }
        if sums.count < stride { sums.append(contentsOf: repeatElement(0, count: stride - sums.count)) }
        for _ in 0..<(buffer.readableBytes / (8 * stride)) {
            for index in 0..<stride { sums[index] += Int(buffer.readInteger(as: Int64.self)!) }
        }
    }
}

/// A packed hours' list of names, as the statistics read it: its hash and how many names it has.
struct ListKey: Hashable {
    let hash: Int64
    let length: Int
}

/// A packed row's counts did not fit its names, or fell outside the days asked for.
struct PackedCountsUnreadable: Error {}
