import FlowtalkContracts
import FlowtalkCore
import Foundation
import Logging
import PostgresNIO
import ReplyRules

/// Whether an AI call may be made for a message.
package enum AIReservation: Sendable, Equatable {
    case granted
    /// The account used its daily budget of calls.
    case budgetExhausted
    /// This conversation had its share of AI answers for the last 24 hours.
    case conversationLimit
}

/// The state of one conversation when an event is handled.
package struct ConversationState: Sendable, Equatable {
    package var lastReplyAt: Date?
    package var pausedUntil: Date?
    /// When the welcome, the bot disclosure and the last away message went to this customer (`Greetings`).
    package var welcomedAt: Date? = nil
    package var disclosedAt: Date? = nil
    package var awaySentAt: Date? = nil
    /// The conversation began with this event (its row was just made): the customer is new to the business.
    package var isNew = false

    package init(
        lastReplyAt: Date? = nil, pausedUntil: Date? = nil, welcomedAt: Date? = nil, disclosedAt: Date? = nil, awaySentAt: Date? = nil, isNew: Bool = false
    ) {
        self.isNew = isNew
        self.lastReplyAt = lastReplyAt
        self.pausedUntil = pausedUntil
        self.welcomedAt = welcomedAt
        self.disclosedAt = disclosedAt
        self.awaySentAt = awaySentAt
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
    /// The greetings decided with it (`welcome`, `disclosure`, `away`) and a hand-off's minutes.
    package var greetings: [String] = []
    package var handOffMinutes: Int? = nil
    package var createdAt: Date? = nil
}

/// Conversations and what was answered in them: `conversations`, `replies`, `sent_messages`, `handled_events` and the
/// AI usage ledger (`ai_usage`, in ConversationStore+AI). Dispatch writes them; auth erases them with an account.
package struct ConversationStore: Sendable {
    package let client: Database
    package let logger: Logger

    package init(client: PostgresClient, logger: Logger) {
        self.init(client: Database(client), logger: logger)
    }

    package init(client database: Database, logger: Logger) {
        self.client = database
        self.logger = logger
    }

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

    /// Marks the conversation used now (it is deleted 30 days after its last use) and returns its state, locking its row
    /// for the transaction.
    package func touchConversation(accountID: UUID, customerID: String, on connection: DatabaseConnection) async throws -> ConversationState {
        let rows = try await connection.query(
            """
            INSERT INTO conversations (account_id, customer_id) VALUES (\(accountID), \(customerID))
            ON CONFLICT (account_id, customer_id) DO UPDATE SET last_used_at = now()
            RETURNING last_reply_at, paused_until, welcomed_at, disclosed_at, away_sent_at, xmax = 0
            """, logger: logger)
        for try await (lastReply, paused, welcomed, disclosed, away, inserted) in rows.decode((Date?, Date?, Date?, Date?, Date?, Bool).self) {
            return ConversationState(
                lastReplyAt: lastReply, pausedUntil: paused, welcomedAt: welcomed, disclosedAt: disclosed, awaySentAt: away, isNew: inserted)
        }
        return ConversationState()
    }

    /// The conversation as it is (a customer never seen: all empty), without touching it.
    package func conversation(accountID: UUID, customerID: String) async throws -> ConversationState {
        let rows = try await client.query(
            """
            SELECT last_reply_at, paused_until, welcomed_at, disclosed_at, away_sent_at FROM conversations
            WHERE account_id = \(accountID) AND customer_id = \(customerID)
            """, logger: logger)
        for try await (lastReply, paused, welcomed, disclosed, away) in rows.decode((Date?, Date?, Date?, Date?, Date?).self) {
            return ConversationState(lastReplyAt: lastReply, pausedUntil: paused, welcomedAt: welcomed, disclosedAt: disclosed, awaySentAt: away)
        }
        return ConversationState()
    }

    /// Records that the welcome, the disclosure or the away message (`kinds`: `welcome`, `disclosure`, `away`) went out.
    package func markGreetings(_ kinds: [String], accountID: UUID, customerID: String, on connection: DatabaseConnection) async throws {
        guard !kinds.isEmpty else { return }
        try await connection.query(
            """
            UPDATE conversations SET
                welcomed_at = CASE WHEN 'welcome' = ANY(\(kinds)) THEN now() ELSE welcomed_at END,
                disclosed_at = CASE WHEN 'disclosure' = ANY(\(kinds)) THEN now() ELSE disclosed_at END,
                away_sent_at = CASE WHEN 'away' = ANY(\(kinds)) THEN now() ELSE away_sent_at END
            WHERE account_id = \(accountID) AND customer_id = \(customerID)
            """, logger: logger)
    }

    /// Pauses the bot for the customer `minutes` from now. `extendOnly` (a person answered from Instagram): a longer pause
    /// already set (the business's own, from the dashboard) is kept, never shortened.
    package func pause(accountID: UUID, customerID: String, minutes: Int, extendOnly: Bool = false, on connection: DatabaseConnection) async throws {
        try await connection.query(
            """
            INSERT INTO conversations (account_id, customer_id, paused_until) VALUES (\(accountID), \(customerID), now() + \(minutes) * interval '1 minute')
            ON CONFLICT (account_id, customer_id) DO UPDATE SET last_used_at = now(),
                paused_until = CASE WHEN \(extendOnly) THEN GREATEST(conversations.paused_until, EXCLUDED.paused_until) ELSE EXCLUDED.paused_until END
            """, logger: logger)
    }

    /// Ends a pause now (the business turned the bot back on for this customer).
    package func resume(accountID: UUID, customerID: String, on connection: DatabaseConnection) async throws {
        try await connection.query(
            "UPDATE conversations SET paused_until = NULL, last_used_at = now() WHERE account_id = \(accountID) AND customer_id = \(customerID)",
            logger: logger)
    }

    /// Commits a reply as `sending` (unique per inbound message) and stamps the conversation's last reply.
    package func beginReply(
        accountID: UUID, inboundMID: String, customerID: String, source: String, ruleID: UUID?, state: String = "sending", note: String? = nil,
        answerKey: String? = nil, greetings: [String] = [], handOffMinutes: Int? = nil, on connection: DatabaseConnection
    ) async throws -> Int64 {
        let rows = try await connection.query(
            """
            INSERT INTO replies (account_id, inbound_mid, customer_id, state, source, rule_id, note, sending_at, answer_key, greetings, hand_off_minutes)
            VALUES (\(accountID), \(inboundMID), \(customerID), \(state), \(source), \(ruleID), \(note),
                    CASE WHEN \(state) = 'sending' THEN now() END, \(answerKey), \(greetings), \(handOffMinutes)) RETURNING id
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

    /// When this customer was last sent (or may have been sent, or is about to be) the answer `answerKey`, if ever: the
    /// cooldown's clock. Replies that ended without a send (failed, skipped) do not count.
    package func lastAnswered(accountID: UUID, customerID: String, answerKey: String, on connection: DatabaseConnection) async throws -> Date? {
        let rows = try await connection.query(Self.lastAnsweredQuery(accountID, customerID, answerKey), logger: logger)
        for try await value in rows.decode(Date?.self) { return value }
        return nil
    }

    /// The same, outside a transaction (the AI path decides its fallback after the AI answered).
    package func lastAnswered(accountID: UUID, customerID: String, answerKey: String) async throws -> Date? {
        let rows = try await client.query(Self.lastAnsweredQuery(accountID, customerID, answerKey), logger: logger)
        for try await value in rows.decode(Date?.self) { return value }
        return nil
    }

    private static func lastAnsweredQuery(_ accountID: UUID, _ customerID: String, _ answerKey: String) -> PostgresQuery {
        """
        SELECT max(created_at) FROM replies
        WHERE account_id = \(accountID) AND customer_id = \(customerID) AND answer_key = \(answerKey)
          AND state IN ('sending', 'sent', 'unknown', 'retry')
        """
    }

    package func reply(inboundMID: String) async throws -> ReplyRecord? {
        let rows = try await client.query(
            "SELECT id, state, source, rule_id, note, greetings, hand_off_minutes, created_at FROM replies WHERE inbound_mid = \(inboundMID)", logger: logger)
        for try await (id, state, source, rule, note, greetings, handOff, created) in rows.decode(
            (Int64, String, String, UUID?, String?, [String], Int?, Date).self)
        {
            return ReplyRecord(id: id, state: state, source: source, ruleID: rule, note: note, greetings: greetings, handOffMinutes: handOff, createdAt: created)
        }
        return nil
    }

    /// Moves a reply from one state to another; false if it was not in `from` (someone else got there first).
    package func transition(replyID: Int64, from: String, to: String, error: String? = nil, on connection: DatabaseConnection) async throws -> Bool {
        let rows = try await connection.query(
            """
            UPDATE replies SET state = \(to), error = \(error), finished_at = CASE WHEN \(to) IN ('sent', 'failed', 'unknown', 'skipped') THEN now() END,
                sending_at = CASE WHEN \(to) = 'sending' THEN now() ELSE sending_at END
            WHERE id = \(replyID) AND state = \(from) RETURNING 1
            """, logger: logger)
        for try await _ in rows.decode(Int.self) { return true }
        return false
    }

    /// Ends the account's replies still waiting (for the AI, or parked for a retry) as `skipped` with `reason`: all of
    /// them (the account was disconnected), or the one to `inboundMID` (its customer unsent it, or its 24-hour window
    /// closed). A reply being sent or sent already cannot be taken back. True when one ended.
    @discardableResult
    package func endWaitingReplies(accountID: UUID, inboundMID mid: String? = nil, reason: String, on connection: DatabaseConnection) async throws -> Bool {
        var ended = false
        for try await _ in try await connection.query(
            """
            UPDATE replies SET state = 'skipped', error = \(reason), finished_at = now()
            WHERE account_id = \(accountID) AND (\(mid)::text IS NULL OR inbound_mid = \(mid)) AND state IN ('pending', 'retry') RETURNING 1
            """, logger: logger
        ).decode(Int.self) { ended = true }
        return ended
    }

    /// Whether the customer's unsend of `mid` has reached the queue (it waits behind the message's own job, or is done;
    /// its dedupe key is kept 7 days).
    package func unsendArrived(mid: String) async throws -> Bool {
        try await JobQueue(client: client, logger: logger).wasEnqueued(dedupeKey: InboundEventJob.unsendDedupeKey(mid: mid))
    }

    package func recordSent(messageIDs: [String], accountID: UUID, replyID: Int64, on connection: DatabaseConnection) async throws {
        guard !messageIDs.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO sent_messages (mid, account_id, reply_id) SELECT unnest(\(messageIDs)::text[]), \(accountID), \(replyID)
            ON CONFLICT DO NOTHING
            """, logger: logger)
    }

    package func isOwnMessage(mid: String, accountID: UUID) async throws -> Bool {
        for try await _ in try await client.query(
            "SELECT 1 FROM sent_messages WHERE mid = \(mid) AND account_id = \(accountID)", logger: logger
        ).decode(Int.self) { return true }
        return false
    }

    /// Erases an account's conversations: their state, replies, sent-message ids and handled-event markers (Meta's
    /// data-deletion callback), in the caller's transaction. The AI usage ledger holds no personal data and stays.
    /// Returns how many conversations, replies and sent-message ids were deleted. `before`: only rows written before
    /// then (a connection removed at that time).
    @discardableResult
    package func eraseConversations(accountID: UUID, before: Date? = nil, on db: DatabaseConnection) async throws -> Int {
        var deleted = 0
        for (table, time) in [("conversations", "last_used_at"), ("replies", "created_at"), ("sent_messages", "created_at"), ("handled_events", "handled_at")] {
            for try await count in try await db.query(
                """
                WITH gone AS (DELETE FROM \(unescaped: table) WHERE account_id = \(accountID)
                    AND (\(before)::timestamptz IS NULL OR \(unescaped: time) < \(before)) RETURNING 1)
                SELECT count(*) FROM gone
                """, logger: logger
            ).decode(Int.self) where table != "handled_events" { deleted += count }
        }
        return deleted
    }
}
