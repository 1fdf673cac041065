import Foundation
import Logging
import PostgresNIO

/// The AI calls a conversation and an account may make (`conversations.ai_replies`, `ai_usage`).
extension ConversationStore {
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
    package func startSending(
        replyID: Int64, from: String, source: String, note: String? = nil, answerKey: String? = nil, ruleID: UUID? = nil, greetings: [String] = [],
        handOffMinutes: Int? = nil
    ) async throws -> Bool {
        let rows = try await client.query(
            """
            WITH moved AS (
                UPDATE replies SET state = 'sending', source = \(source), note = \(note), sending_at = now(), answer_key = \(answerKey),
                    rule_id = \(ruleID), greetings = \(greetings), hand_off_minutes = \(handOffMinutes)
                WHERE id = \(replyID) AND state = \(from)
                RETURNING account_id, customer_id),
            stamped AS (
                UPDATE conversations c SET last_reply_at = now() FROM moved m WHERE c.account_id = m.account_id AND c.customer_id = m.customer_id)
            SELECT 1 FROM moved
            """, logger: logger)
        for try await _ in rows.decode(Int.self) { return true }
        return false
    }

    /// Forgets AI usage counters of past days (a week is kept for support questions).
    package func purgeAIUsage() async throws {
        try await client.query("DELETE FROM ai_usage WHERE day < (now() AT TIME ZONE 'UTC')::date - 7", logger: logger)
    }
}
