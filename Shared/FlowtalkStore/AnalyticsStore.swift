import Foundation
import Logging
import PostgresNIO

/// One activity-log entry as the dashboard shows it.
package struct ActivityItem: Sendable, Codable, Equatable {
    package var id: String
    package var occurred_at: Date
    package var customer_id: String?
    package var event_kind: String
    package var summary: String?
    package var reply_summary: String?
    package var outcome: String
    package var source: String?
    package var rule_id: String?
    package var reason: String?
    package var latency_ms: Int?
}

/// Statistics and the activity log of one account. Every statement is scoped by the account id.
package struct AnalyticsStore: Sendable {
    package let client: Database
    package let logger: Logger
    /// Activity entries are kept this long (the privacy policy's 90 days).
    package static let activityRetentionDays = 90

    package init(client: PostgresClient, logger: Logger) {
        self.init(client: Database(client), logger: logger)
    }

    package init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Whether PostgreSQL knows the time zone (IANA names such as `Europe/Paris`, and `UTC`).
    package func isKnownTimeZone(_ name: String) async -> Bool {
        guard !name.isEmpty, name.utf8.count <= 64,
            name.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || "/_+-".unicodeScalars.contains($0) }),
            name.unicodeScalars.allSatisfy(\.isASCII)
        else { return false }
        do {
            for try await _ in try await client.query("SELECT now() AT TIME ZONE \(name)", logger: logger).decode(Date.self) { return true }
        } catch {
            return false
        }
        return false
    }

    /// Today's date in a time zone, `YYYY-MM-DD`.
    package func today(timeZone: String) async throws -> String {
        for try await day in try await client.query("SELECT to_char(now() AT TIME ZONE \(timeZone), 'YYYY-MM-DD')", logger: logger).decode(String.self) {
            return day
        }
        return ""
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

    /// Webhook→reply latency percentiles of replies sent in the range (from the activity log, so at most 90 days back).
    package func latency(accountID: UUID, from: String, to: String, timeZone: String) async throws -> (p50: Double?, p95: Double?, samples: Int) {
        let rows = try await client.query(
            """
            SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms), percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms),
                   count(latency_ms)::int8
            FROM activity
            WHERE account_id = \(accountID) AND outcome = 'replied' AND latency_ms IS NOT NULL
              AND occurred_at >= (\(from)::date::timestamp AT TIME ZONE \(timeZone))
              AND occurred_at < ((\(to)::date + 1)::timestamp AT TIME ZONE \(timeZone))
            """, logger: logger)
        for try await (p50, p95, samples) in rows.decode((Double?, Double?, Int64).self) { return (p50, p95, Int(samples)) }
        return (nil, nil, 0)
    }

    /// The account's rules' keywords by id (lower-case), to name the rules in the statistics.
    package func ruleKeywords(accountID: UUID) async throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for try await (id, keywords) in try await client.query(
            "SELECT id, keywords FROM reply_rules WHERE account_id = \(accountID)", logger: logger
        ).decode((UUID, [String]).self) { result[id.uuidString.lowercased()] = keywords }
        return result
    }

    package func iceBreakerQuestions(accountID: UUID) async throws -> [Int: String] {
        var result: [Int: String] = [:]
        for try await (position, question) in try await client.query(
            "SELECT position, question FROM ice_breakers WHERE account_id = \(accountID)", logger: logger
        ).decode((Int16, String).self) { result[Int(position)] = question }
        return result
    }

    /// A page of the activity log, newest first: entries older than `before` (an entry id), of one outcome if given.
    /// Returns one more than `limit` when there is a next page.
    package func activity(accountID: UUID, limit: Int, before: Int64?, outcome: String?) async throws -> [ActivityItem] {
        let rows = try await client.query(
            """
            SELECT id, occurred_at, customer_id, event_kind, summary, reply_summary, outcome, source, rule_id, reason, latency_ms
            FROM activity
            WHERE account_id = \(accountID) AND (\(before)::int8 IS NULL OR id < \(before)) AND (\(outcome)::text IS NULL OR outcome = \(outcome))
            ORDER BY id DESC LIMIT \(limit + 1)
            """, logger: logger)
        var items: [ActivityItem] = []
        for try await (id, at, customer, kind, summary, reply, outcome, source, rule, reason, latency) in rows.decode(
            (Int64, Date, String?, String, String?, String?, String, String?, UUID?, String?, Int?).self)
        {
            items.append(
                ActivityItem(
                    id: String(id), occurred_at: at, customer_id: customer, event_kind: kind, summary: summary, reply_summary: reply, outcome: outcome,
                    source: source, rule_id: rule?.uuidString.lowercased(), reason: reason, latency_ms: latency))
        }
        return items
    }

    /// Deletes activity entries older than the retention period, `batch` rows per statement so no lock is held for
    /// long, until none are left or `maxBatches` ran; returns how many went. Counts are not touched.
    package func purgeActivity(olderThanDays days: Int = activityRetentionDays, batch: Int = 2_000, maxBatches: Int = 10_000,
                               pause: Duration = .milliseconds(20)) async throws -> Int {
        try await client.deleteInBatches(
            """
            WITH gone AS (
                DELETE FROM activity WHERE id IN (
                    SELECT id FROM activity WHERE occurred_at < now() - \(days) * interval '1 day' LIMIT \(batch) FOR UPDATE SKIP LOCKED)
                RETURNING 1)
            SELECT count(*) FROM gone
            """, batch: batch, maxBatches: maxBatches, pause: pause, logger: logger)
    }

    // MARK: Benchmarks (flowtalk-dev bench-latency)

    /// How many events of customers whose id starts with `prefix` are decided (replied, failed, unknown or skipped).
    package func decidedCount(customerIDPrefix prefix: String) async throws -> Int {
        for try await n in try await client.query(
            "SELECT count(*) FROM activity WHERE starts_with(customer_id, \(prefix)) AND outcome IN ('replied', 'failed', 'unknown', 'skipped')",
            logger: logger
        ).decode(Int.self) { return n }
        return 0
    }

    /// Replies to customers whose id starts with `prefix`: how many, and their webhook→reply latency p50, p99 and max (ms).
    package func replyLatency(customerIDPrefix prefix: String) async throws -> (count: Int, p50: Double?, p99: Double?, max: Int?) {
        for try await row in try await client.query(
            """
            SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms), percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ms),
                   max(latency_ms)
            FROM activity WHERE starts_with(customer_id, \(prefix)) AND outcome = 'replied'
            """, logger: logger
        ).decode((Int, Double?, Double?, Int?).self) { return row }
        return (0, nil, nil, nil)
    }

}
