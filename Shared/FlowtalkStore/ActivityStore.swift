import Foundation
import Logging
import PostgresNIO
import Synchronization

/// One activity-log entry. `summary` is at most 80 characters of the customer's text.
package struct ActivityEntry: Sendable {
    package var customerID: String?
    package var eventKind: String
    package var summary: String?
    package var outcome: String
    package var source: String?
    package var ruleID: UUID?
    package var reason: String?
    package var latencyMs: Int?
    /// The start of what was sent (80 characters).
    package var replySummary: String?
    /// The Instagram message the entry is about (nil for entries about no message).
    package var mid: String?
    /// How much of a text the log keeps.
    package static let summaryLength = 80

    package init(customerID: String?, eventKind: String, summary: String?, outcome: String, source: String? = nil, ruleID: UUID? = nil,
                 reason: String? = nil, latencyMs: Int? = nil, replySummary: String? = nil, mid: String? = nil) {
        self.mid = mid
        self.customerID = customerID
        self.eventKind = eventKind
        self.summary = summary.map { String($0.prefix(Self.summaryLength)) }
        self.outcome = outcome
        self.source = source
        self.ruleID = ruleID
        self.reason = reason
        self.latencyMs = latencyMs
        self.replySummary = replySummary.map { String($0.prefix(Self.summaryLength)) }
    }
}

/// An activity-log entry as stored, with its id and time.
package struct ActivityRecord: Sendable, Equatable {
    package var id: Int64
    package var occurredAt: Date
    package var customerID: String?
    package var eventKind: String
    package var summary: String?
    package var replySummary: String?
    package var outcome: String
    package var source: String?
    package var ruleID: UUID?
    package var reason: String?
    package var latencyMs: Int?
    /// When the customer unsent the message (its text and the reply's are gone then).
    package var unsentAt: Date? = nil
}

/// The activity log and the hourly counters (`activity`, `hourly_counts` and `hourly_packed`, in ActivityStore+Counts): dispatch writes them
/// as it decides; analytics reads and purges them. Every statement about an account is scoped by its id.
package struct ActivityStore: Sendable {
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

    /// Writes one entry, in the caller's transaction (with the decision it records).
    package func add(_ entry: ActivityEntry, accountID: UUID, on connection: DatabaseConnection) async throws {
        try await connection.query(
            """
            INSERT INTO activity (account_id, customer_id, event_kind, summary, outcome, source, rule_id, reason, latency_ms, reply_summary, mid)
            VALUES (\(accountID), \(entry.customerID), \(entry.eventKind), \(entry.summary), \(entry.outcome), \(entry.source), \(entry.ruleID),
                    \(entry.reason), \(entry.latencyMs), \(entry.replySummary), \(entry.mid))
            """, logger: logger)
    }

    /// The customer unsent message `mid`: the entries about it lose the customer's text and the reply's, and say when.
    package func forgetUnsent(mid: String, accountID: UUID, on db: DatabaseConnection) async throws {
        try await db.query(
            """
            UPDATE activity SET summary = NULL, reply_summary = NULL, unsent_at = now()
            WHERE account_id = \(accountID) AND mid = \(mid) AND unsent_at IS NULL
            """, logger: logger)
    }

    /// The last exchanges with a customer within `minutes`, oldest first, as the activity log keeps them (the customer's
    /// text and the start of the answer, 80 characters each). Used only when the business turned memory on.
    package func recentTurns(accountID: UUID, customerID: String, minutes: Int, limit: Int) async throws -> [(customer: String, business: String?)] {
        let rows = try await client.query(
            """
            SELECT summary, reply_summary FROM activity
            WHERE account_id = \(accountID) AND customer_id = \(customerID) AND summary IS NOT NULL AND event_kind IN ('message', 'postback')
              AND occurred_at > now() - \(minutes) * interval '1 minute'
            ORDER BY occurred_at DESC, id DESC LIMIT \(limit)
            """, logger: logger)
        var turns: [(customer: String, business: String?)] = []
        for try await (customer, business) in rows.decode((String, String?).self) { turns.append((customer, business)) }
        return turns.reversed()
    }

    /// Erases an account's activity entries (Meta's data-deletion callback), in the caller's transaction. The hourly
    /// counts hold no personal data and stay.
    /// Returns how many entries were deleted.
    @discardableResult
    package func erase(accountID: UUID, before: Date? = nil, on db: DatabaseConnection) async throws -> Int {
        var deleted = 0
        for try await count in try await db.query(
            """
            WITH gone AS (DELETE FROM activity WHERE account_id = \(accountID) AND (\(before)::timestamptz IS NULL OR occurred_at < \(before))
                RETURNING 1)
            SELECT count(*) FROM gone
            """, logger: logger
        ).decode(Int.self) { deleted = count }
        return deleted
    }

    /// Whether PostgreSQL knows the time zone (IANA names such as `Europe/Paris`, and `UTC`). A name it accepted is
    /// remembered by the process (at most 2,000 names; PostgreSQL also accepts POSIX forms such as `XYZ+3`), so the
    /// dashboard's requests do not ask again.
    package func isKnownTimeZone(_ name: String) async -> Bool {
        guard !name.isEmpty, name.utf8.count <= 64,
            name.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) || "/_+-".unicodeScalars.contains($0) }),
            name.unicodeScalars.allSatisfy(\.isASCII)
        else { return false }
        if Self.knownTimeZones.withLock({ $0.contains(name) }) { return true }
        do {
            for try await _ in try await client.query("SELECT now() AT TIME ZONE \(name)", logger: logger).decode(Date.self) {
                Self.knownTimeZones.withLock { known in
                    if known.count < 2_000 { known.insert(name) }
                }
                return true
            }
        } catch {
            return false
        }
        return false
    }

    private static let knownTimeZones = Mutex<Set<String>>([])

    /// Today's date in a time zone, `YYYY-MM-DD`.
    package func today(timeZone: String) async throws -> String {
        for try await day in try await client.query("SELECT to_char(now() AT TIME ZONE \(timeZone), 'YYYY-MM-DD')", logger: logger).decode(String.self) {
            return day
        }
        return ""
    }

    /// A page of the activity log, newest first: entries older than `before` (an entry id), of one outcome and one
    /// customer (a conversation's thread) if given. Returns one more than `limit` when there is a next page.
    package func activity(accountID: UUID, limit: Int, before: Int64?, outcome: String?, customerID: String? = nil) async throws -> [ActivityRecord] {
        let rows = try await client.query(
            """
            SELECT id, occurred_at, customer_id, event_kind, summary, reply_summary, outcome, source, rule_id, reason, latency_ms, unsent_at
            FROM activity
            WHERE account_id = \(accountID) AND (\(before)::int8 IS NULL OR id < \(before)) AND (\(outcome)::text IS NULL OR outcome = \(outcome))
              AND (\(customerID)::text IS NULL OR customer_id = \(customerID))
            ORDER BY id DESC LIMIT \(limit + 1)
            """, logger: logger)
        var items: [ActivityRecord] = []
        for try await (id, at, customer, kind, summary, reply, outcome, source, rule, reason, latency, unsent) in rows.decode(
            (Int64, Date, String?, String, String?, String?, String, String?, UUID?, String?, Int?, Date?).self)
        {
            items.append(
                ActivityRecord(
                    id: id, occurredAt: at, customerID: customer, eventKind: kind, summary: summary, replySummary: reply, outcome: outcome,
                    source: source, ruleID: rule, reason: reason, latencyMs: latency, unsentAt: unsent))
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
