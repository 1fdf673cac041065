import FlowtalkContracts
import Foundation
import Logging
import PostgresNIO

/// A customer found in an account's data: their Instagram-scoped id, how many log entries name them and the latest.
package struct CustomerMatch: Sendable, Equatable {
    package let customerID: String
    package let entries: Int
    package let lastSeen: Date?
}

/// What an erasure removed.
package struct CustomerErasure: Sendable, Equatable, Encodable {
    package var activity = 0
    package var conversations = 0
    package var replies = 0
    package var queued_messages = 0
}

/// A business answering its own customer's request (the processor's duty to help): find what the account holds about a
/// customer, export it, or erase it. Every statement is scoped by the account.
extension AccountStore {
    /// Customers whose id is `query`, or whose message (or the reply to it) contains `query`, case-insensitively,
    /// most recent first. Only the activity log keeps text, so a phrase is looked for there.
    package func findCustomers(accountID: UUID, query: String, limit: Int = 20) async throws -> [CustomerMatch] {
        let pattern = "%" + query.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_") + "%"
        let rows = try await client.query(
            """
            SELECT customer_id, sum(entries)::int8, max(last_seen) FROM (
                SELECT customer_id, count(*) AS entries, max(occurred_at) AS last_seen FROM activity
                WHERE account_id = \(accountID) AND customer_id IS NOT NULL
                  AND (customer_id = \(query) OR summary ILIKE \(pattern) ESCAPE '\\' OR reply_summary ILIKE \(pattern) ESCAPE '\\')
                GROUP BY customer_id
                UNION ALL
                SELECT customer_id, 0, last_used_at FROM conversations WHERE account_id = \(accountID) AND customer_id = \(query)
                UNION ALL
                SELECT customer_id, 0, created_at FROM replies WHERE account_id = \(accountID) AND customer_id = \(query)
            ) found
            GROUP BY customer_id ORDER BY max(last_seen) DESC NULLS LAST LIMIT \(limit)
            """, logger: logger)
        var matches: [CustomerMatch] = []
        for try await (customer, entries, last) in rows.decode((String, Int64, Date?).self) {
            matches.append(CustomerMatch(customerID: customer, entries: Int(entries), lastSeen: last))
        }
        return matches
    }

    /// Everything the account holds about one customer, as JSON (`"format": "flowtalk-customer-export/1"`): their log
    /// entries, their conversation's state, the replies to them. Nil when nothing is held.
    package func exportCustomer(accountID: UUID, customerID: String, queuedMessages: Int) async throws -> String? {
        let rows = try await client.query(
            """
            SELECT CASE WHEN a IS NULL AND c IS NULL AND r IS NULL AND \(queuedMessages) = 0 THEN NULL ELSE jsonb_build_object(
                'format', 'flowtalk-customer-export/1', 'exported_at', now(), 'customer_id', \(customerID)::text,
                'activity', COALESCE(a, '[]'), 'conversation', c, 'replies', COALESCE(r, '[]'),
                'queued_messages', \(queuedMessages))::text END
            FROM (SELECT
                (SELECT jsonb_agg(to_jsonb(e) - 'account_id' ORDER BY e.id) FROM activity e
                 WHERE e.account_id = \(accountID) AND e.customer_id = \(customerID)) AS a,
                (SELECT to_jsonb(v) - 'account_id' FROM conversations v WHERE v.account_id = \(accountID) AND v.customer_id = \(customerID)) AS c,
                (SELECT jsonb_agg(to_jsonb(p) - 'account_id' ORDER BY p.id) FROM replies p
                 WHERE p.account_id = \(accountID) AND p.customer_id = \(customerID)) AS r) parts
            """, logger: logger)
        for try await text in rows.decode(String?.self) { return text }
        return nil
    }

    /// Erases everything the account holds about one customer in one transaction: log entries, conversation, replies (and
    /// their sent-message ids), and the messages still queued in that conversation (`conversationKey`, when connected).
    package func eraseCustomer(accountID: UUID, customerID: String, conversationKey: String?) async throws -> CustomerErasure {
        let queue = JobQueue(client: client, logger: logger)
        return try await client.withTransaction(logger: logger) { db -> CustomerErasure in
            var erased = CustomerErasure()
            func delete(_ table: String) async throws -> Int {
                for try await count in try await db.query(
                    """
                    WITH gone AS (DELETE FROM \(unescaped: table) WHERE account_id = \(accountID) AND customer_id = \(customerID) RETURNING 1)
                    SELECT count(*) FROM gone
                    """, logger: logger
                ).decode(Int.self) { return count }
                return 0
            }
            erased.activity = try await delete("activity")
            erased.conversations = try await delete("conversations")
            erased.replies = try await delete("replies")
            if let conversationKey { erased.queued_messages = try await queue.cancel(conversation: conversationKey, on: db) }
            return erased
        }
    }
}
