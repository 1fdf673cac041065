import Foundation
import PostgresNIO

/// One customer's conversation as the activity log shows it: the latest entry, how many there are, and whether the bot
/// is paused for them.
package struct ConversationSummary: Sendable, Equatable {
    package let customerID: String
    /// The newest entry's id: the list's order and its page cursor.
    package let lastID: Int64
    package let lastAt: Date
    package let entries: Int
    package let lastSummary: String?
    package let lastOutcome: String
    package let lastReason: String?
    package let lastUnsentAt: Date?
    package let pausedUntil: Date?
}

extension ActivityStore {
    /// The account's conversations (the activity log grouped by customer, 90 days), most recently active first; with
    /// `query`, only customers whose id is it or whose messages or replies contain it (case-insensitive), counting the
    /// matching entries. Returns one more than `limit` when there is a next page (`before`: a `lastID`).
    /// `customerID`: that customer's conversation only (exact), as the dashboard's open thread reads its pause.
    package func conversations(accountID: UUID, query: String?, before: Int64?, limit: Int, customerID: String? = nil) async throws -> [ConversationSummary] {
        let pattern = query.map {
            "%" + $0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_") + "%"
        }
        let rows = try await client.query(
            """
            WITH grouped AS (
                SELECT customer_id, max(id) AS last_id, count(*)::int8 AS entries FROM activity
                WHERE account_id = \(accountID) AND customer_id IS NOT NULL AND (\(customerID)::text IS NULL OR customer_id = \(customerID))
                  AND (\(query)::text IS NULL OR customer_id = \(query)
                       OR summary ILIKE \(pattern) ESCAPE '\\' OR reply_summary ILIKE \(pattern) ESCAPE '\\')
                GROUP BY customer_id)
            SELECT g.customer_id, g.last_id, a.occurred_at, g.entries, a.summary, a.outcome, a.reason, a.unsent_at,
                   CASE WHEN c.paused_until > now() THEN c.paused_until END
            FROM grouped g JOIN activity a ON a.id = g.last_id
            LEFT JOIN conversations c ON c.account_id = \(accountID) AND c.customer_id = g.customer_id
            WHERE \(before)::int8 IS NULL OR g.last_id < \(before)
            ORDER BY g.last_id DESC LIMIT \(limit + 1)
            """, logger: logger)
        var found: [ConversationSummary] = []
        for try await (customer, lastID, at, entries, summary, outcome, reason, unsent, paused) in rows.decode(
            (String, Int64, Date, Int64, String?, String, String?, Date?, Date?).self)
        {
            found.append(ConversationSummary(
                customerID: customer, lastID: lastID, lastAt: at, entries: Int(entries), lastSummary: summary, lastOutcome: outcome,
                lastReason: reason, lastUnsentAt: unsent, pausedUntil: paused))
        }
        return found
    }
}
