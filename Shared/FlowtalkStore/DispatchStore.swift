import FlowtalkCore
import Foundation
import Logging
import PostgresNIO
import ReplyRules

/// An account's automation settings.
package struct AccountSettings: Sendable, Equatable {
    package var cooldownSeconds: Int = 10
    package var humanPauseMinutes: Int = 60
    package var aiEnabled = false
    package var businessDescription = ""
    package var aiTone = ""
    package var fallbackText = ""
    package var aiMemory = false
    /// AI calls per UTC day.
    package var aiDailyBudget = 200

    package init(cooldownSeconds: Int = 10, humanPauseMinutes: Int = 60, aiEnabled: Bool = false, businessDescription: String = "",
                 aiTone: String = "", fallbackText: String = "", aiMemory: Bool = false, aiDailyBudget: Int = 200) {
        self.cooldownSeconds = cooldownSeconds
        self.humanPauseMinutes = humanPauseMinutes
        self.aiEnabled = aiEnabled
        self.businessDescription = businessDescription
        self.aiTone = aiTone
        self.fallbackText = fallbackText
        self.aiMemory = aiMemory
        self.aiDailyBudget = aiDailyBudget
    }
}

/// Whether an AI call may be made for a message.
package enum AIReservation: Sendable, Equatable {
    case granted
    /// The account used its daily budget of calls.
    case budgetExhausted
    /// This conversation had its share of AI answers for the last 24 hours.
    case conversationLimit
}

/// The state of one conversation when an event is handled.
package struct ConversationState: Sendable {
    package let lastReplyAt: Date?
    package let pausedUntil: Date?
}

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
    /// How much of a text the log keeps.
    package static let summaryLength = 80

    package init(customerID: String?, eventKind: String, summary: String?, outcome: String, source: String? = nil, ruleID: UUID? = nil,
                 reason: String? = nil, latencyMs: Int? = nil, replySummary: String? = nil) {
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

/// A reply row.
package struct ReplyRecord: Sendable, Equatable {
    package let id: Int64
    package let state: String
    package let source: String
    package let ruleID: UUID?
    /// Why the fallback text was chosen (`ai_budget_exhausted`, …).
    package var note: String? = nil
}

/// SQL for the dispatch worker: connections, rules, conversations, replies, activity and counts.
package struct DispatchStore: Sendable {
    package let client: Database
    package let logger: Logger

    package init(client: PostgresClient, logger: Logger) {
        self.init(client: Database(client), logger: logger)
    }

    package init(client database: Database, logger: Logger) {
        self.client = database
        self.logger = logger
    }

    /// The Instagram connections (owned by ConnectionStore).
    package var connections: ConnectionStore { ConnectionStore(client: client, logger: logger) }
    /// Rules, settings and Ice Breakers (owned by AutomationStore; dispatch only reads them).
    package var automation: AutomationStore { AutomationStore(client: client, logger: logger) }

    /// Forgets handled-event markers older than `days`, in batches; returns how many.
    package func purgeHandledEvents(olderThanDays days: Int) async throws -> Int {
        try await client.deleteInBatches(
            """
            WITH gone AS (DELETE FROM handled_events WHERE ctid IN (
                SELECT ctid FROM handled_events WHERE handled_at < now() - \(days) * interval '1 day' LIMIT 5000)
                RETURNING 1)
            SELECT count(*) FROM gone
            """, batch: 5000, logger: logger)
    }

    /// Claims the handling of an event: true the first time, false when a run before this one already decided it.
    package func markHandled(mid: String, kind: String, accountID: UUID, on connection: DatabaseConnection) async throws -> Bool {
        let rows = try await connection.query(
            "INSERT INTO handled_events (mid, kind, account_id) VALUES (\(mid), \(kind), \(accountID)) ON CONFLICT DO NOTHING RETURNING 1",
            logger: logger)
        for try await _ in rows.decode(Int.self) { return true }
        return false
    }

    /// Records a customer message's time and returns the conversation's state, locking its row for the transaction.
    package func touchConversation(accountID: UUID, customerID: String, customerMessageAt: Date?, on connection: DatabaseConnection) async throws
        -> ConversationState
    {
        let rows = try await connection.query(
            """
            INSERT INTO conversations (account_id, customer_id, last_customer_message_at) VALUES (\(accountID), \(customerID), \(customerMessageAt))
            ON CONFLICT (account_id, customer_id) DO UPDATE SET last_customer_message_at =
                GREATEST(conversations.last_customer_message_at, EXCLUDED.last_customer_message_at)
            RETURNING last_reply_at, paused_until
            """, logger: logger)
        for try await (lastReply, paused) in rows.decode((Date?, Date?).self) { return ConversationState(lastReplyAt: lastReply, pausedUntil: paused) }
        return ConversationState(lastReplyAt: nil, pausedUntil: nil)
    }

    package func pause(accountID: UUID, customerID: String, minutes: Int, on connection: DatabaseConnection) async throws {
        try await connection.query(
            """
            INSERT INTO conversations (account_id, customer_id, paused_until) VALUES (\(accountID), \(customerID), now() + \(minutes) * interval '1 minute')
            ON CONFLICT (account_id, customer_id) DO UPDATE SET paused_until = EXCLUDED.paused_until
            """, logger: logger)
    }

    /// Commits a reply as `sending` (unique per inbound message) and stamps the conversation's last reply.
    package func beginReply(
        accountID: UUID, inboundMID: String, customerID: String, source: String, ruleID: UUID?, state: String = "sending", note: String? = nil,
        on connection: DatabaseConnection
    ) async throws -> Int64 {
        let rows = try await connection.query(
            """
            INSERT INTO replies (account_id, inbound_mid, customer_id, state, source, rule_id, note)
            VALUES (\(accountID), \(inboundMID), \(customerID), \(state), \(source), \(ruleID), \(note)) RETURNING id
            """, logger: logger)
        var id: Int64 = 0
        for try await value in rows.decode(Int64.self) { id = value }
        // The cooldown starts when something is going out; a `pending` AI reply may still end in nothing.
        if state == "sending" {
            try await connection.query(
                "UPDATE conversations SET last_reply_at = now() WHERE account_id = \(accountID) AND customer_id = \(customerID)", logger: logger)
        }
        return id
    }

    package func reply(inboundMID: String) async throws -> ReplyRecord? {
        let rows = try await client.query("SELECT id, state, source, rule_id, note FROM replies WHERE inbound_mid = \(inboundMID)", logger: logger)
        for try await (id, state, source, rule, note) in rows.decode((Int64, String, String, UUID?, String?).self) {
            return ReplyRecord(id: id, state: state, source: source, ruleID: rule, note: note)
        }
        return nil
    }

    /// Moves a reply from one state to another; false if it was not in `from` (someone else got there first).
    package func transition(replyID: Int64, from: String, to: String, error: String? = nil, on connection: DatabaseConnection) async throws -> Bool {
        let rows = try await connection.query(
            """
            UPDATE replies SET state = \(to), error = \(error), finished_at = CASE WHEN \(to) IN ('sent', 'failed', 'unknown', 'skipped') THEN now() END
            WHERE id = \(replyID) AND state = \(from) RETURNING 1
            """, logger: logger)
        for try await _ in rows.decode(Int.self) { return true }
        return false
    }

    package func recordSent(messageIDs: [String], accountID: UUID, replyID: Int64, on connection: DatabaseConnection) async throws {
        guard !messageIDs.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO sent_messages (mid, account_id, reply_id) SELECT unnest(\(messageIDs)::text[]), \(accountID), \(replyID)
            ON CONFLICT DO NOTHING
            """, logger: logger)
    }

    package func isOwnMessage(mid: String) async throws -> Bool {
        for try await _ in try await client.query("SELECT 1 FROM sent_messages WHERE mid = \(mid)", logger: logger).decode(Int.self) { return true }
        return false
    }

    /// Erases an account's conversations: their state, replies, sent-message ids, handled-event markers and activity
    /// (Meta's data-deletion callback), in the caller's transaction. The hourly counts hold no personal data and stay.
    package func eraseConversations(accountID: UUID, on db: DatabaseConnection) async throws {
        for table in ["conversations", "replies", "sent_messages", "handled_events", "activity"] {
            try await db.query("DELETE FROM \(unescaped: table) WHERE account_id = \(accountID)", logger: logger)
        }
    }

    package func addActivity(_ entry: ActivityEntry, accountID: UUID, on connection: DatabaseConnection) async throws {
        try await connection.query(
            """
            INSERT INTO activity (account_id, customer_id, event_kind, summary, outcome, source, rule_id, reason, latency_ms, reply_summary)
            VALUES (\(accountID), \(entry.customerID), \(entry.eventKind), \(entry.summary), \(entry.outcome), \(entry.source), \(entry.ruleID),
                    \(entry.reason), \(entry.latencyMs), \(entry.replySummary))
            """, logger: logger)
    }
}

/// An Ice Breaker question and the answer sent when a customer taps it.
package struct IceBreaker: Sendable, Equatable, Codable {
    package var position: Int
    package var question: String
    package var answer: String
    /// What Instagram sends back in the postback when the question is tapped.
    package var payload: String

    package init(position: Int, question: String, answer: String, payload: String) {
        self.position = position
        self.question = question
        self.answer = answer
        self.payload = payload
    }
}

extension IceBreaker {
    /// Replaces an account's Ice Breakers with `list`, in the caller's transaction.
    package static func replaceAll(_ list: [IceBreaker], accountID: UUID, on db: DatabaseConnection, logger: Logger) async throws {
        try await db.query("DELETE FROM ice_breakers WHERE account_id = \(accountID)", logger: logger)
        for item in list {
            try await db.query(
                """
                INSERT INTO ice_breakers (account_id, position, question, answer, payload)
                VALUES (\(accountID), \(Int16(item.position)), \(item.question), \(item.answer), \(item.payload))
                """, logger: logger)
        }
    }
}

// MARK: AI replies

extension DispatchStore {
    /// Checks the conversation's and the account's AI limits and, when both allow it, counts one call against each — in
    /// the caller's transaction, after `touchConversation` locked the conversation row. The daily budget is per UTC day.
    package func reserveAICall(accountID: UUID, customerID: String, dailyBudget: Int, conversationLimit: Int, on connection: DatabaseConnection)
        async throws -> AIReservation
    {
        let used = try await connection.query(
            """
            SELECT CASE WHEN ai_window_start > now() - interval '24 hours' THEN ai_replies ELSE 0 END
            FROM conversations WHERE account_id = \(accountID) AND customer_id = \(customerID)
            """, logger: logger)
        for try await count in used.decode(Int.self) where count >= conversationLimit { return .conversationLimit }
        guard dailyBudget > 0 else { return .budgetExhausted }
        let granted = try await connection.query(
            """
            INSERT INTO ai_usage (account_id, day, calls) VALUES (\(accountID), (now() AT TIME ZONE 'UTC')::date, 1)
            ON CONFLICT (account_id, day) DO UPDATE SET calls = ai_usage.calls + 1 WHERE ai_usage.calls < \(dailyBudget)
            RETURNING calls
            """, logger: logger)
        var ok = false
        for try await _ in granted.decode(Int.self) { ok = true }
        guard ok else { return .budgetExhausted }
        try await connection.query(
            """
            UPDATE conversations SET
                ai_replies = CASE WHEN ai_window_start > now() - interval '24 hours' THEN ai_replies + 1 ELSE 1 END,
                ai_window_start = CASE WHEN ai_window_start > now() - interval '24 hours' THEN ai_window_start ELSE now() END
            WHERE account_id = \(accountID) AND customer_id = \(customerID)
            """, logger: logger)
        return .granted
    }

    /// Moves a reply to `sending` with the source it is sent as (an AI answer, or the fallback text in its place), and
    /// starts the conversation's cooldown.
    package func startSending(replyID: Int64, from: String, source: String, note: String? = nil) async throws -> Bool {
        let rows = try await client.query(
            """
            WITH moved AS (
                UPDATE replies SET state = 'sending', source = \(source), note = \(note) WHERE id = \(replyID) AND state = \(from)
                RETURNING account_id, customer_id),
            stamped AS (
                UPDATE conversations c SET last_reply_at = now() FROM moved m WHERE c.account_id = m.account_id AND c.customer_id = m.customer_id)
            SELECT 1 FROM moved
            """, logger: logger)
        for try await _ in rows.decode(Int.self) { return true }
        return false
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

    /// Forgets AI usage counters of past days (a week is kept for support questions).
    package func purgeAIUsage() async throws {
        try await client.query("DELETE FROM ai_usage WHERE day < (now() AT TIME ZONE 'UTC')::date - 7", logger: logger)
    }
}
