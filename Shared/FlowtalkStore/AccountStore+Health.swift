import Foundation
import PostgresNIO

/// What the dashboard's health strip is made of (`GET /api/health`): read in one statement, scoped by the account.
package struct AccountHealthFacts: Sendable, Equatable {
    /// `not_connected`, `active` or `needs_reconnect`.
    package var instagram = "not_connected"
    package var rulesEnabled = 0
    package var aiEnabled = false
    package var iceBreakers = 0
    /// Why the latest send was refused for the token, within a week (`token_invalid`, `token_unreadable`).
    package var lastTokenRefusal: String?
    /// Within the last 30 minutes: the latest answer the AI circuit breaker held back, and the latest AI reply.
    package var lastCircuitOpenAt: Date?
    package var lastAIReplyAt: Date?
    /// Within the last hour.
    package var failedLastHour = 0
    package var repliedLastHour = 0
    package var commonestFailure: String?
    /// Since the account began (the hourly counts, kept until the account is deleted).
    package var messagesReceived = 0
    package var repliesSent = 0
    /// Conversations a hand-off rule gave to a person that are still paused and that no person has answered since (their
    /// latest pause is the hand-off's): "waiting for you".
    package var waitingForYou = 0

    package init() {}
}

extension AccountStore {
    package func healthFacts(accountID: UUID) async throws -> AccountHealthFacts {
        let rows = try await client.query(
            """
            SELECT
              coalesce((SELECT status FROM instagram_connections WHERE account_id = \(accountID)), 'not_connected'),
              (SELECT count(*)::int8 FROM reply_rules WHERE account_id = \(accountID) AND enabled),
              coalesce((SELECT ai_enabled FROM account_settings WHERE account_id = \(accountID)), false),
              (SELECT count(*)::int8 FROM ice_breakers WHERE account_id = \(accountID)),
              CASE WHEN (SELECT status FROM instagram_connections WHERE account_id = \(accountID)) = 'needs_reconnect' THEN
                (SELECT reason FROM activity WHERE account_id = \(accountID) AND reason IN ('token_invalid', 'token_unreadable')
                   AND occurred_at > now() - interval '7 days' ORDER BY occurred_at DESC LIMIT 1) END,
              (SELECT max(occurred_at) FROM activity WHERE account_id = \(accountID) AND reason = 'ai_circuit_open'
                 AND occurred_at > now() - interval '30 minutes'),
              (SELECT max(occurred_at) FROM activity WHERE account_id = \(accountID) AND outcome = 'replied' AND source = 'ai'
                 AND occurred_at > now() - interval '30 minutes'),
              (SELECT count(*)::int8 FROM activity WHERE account_id = \(accountID) AND outcome = 'failed' AND occurred_at > now() - interval '1 hour'),
              (SELECT count(*)::int8 FROM activity WHERE account_id = \(accountID) AND outcome = 'replied' AND occurred_at > now() - interval '1 hour'),
              (SELECT reason FROM activity WHERE account_id = \(accountID) AND outcome = 'failed' AND occurred_at > now() - interval '1 hour'
                 GROUP BY reason ORDER BY count(*) DESC, reason LIMIT 1),
              coalesce((SELECT sum(count)::int8 FROM hourly_counts WHERE account_id = \(accountID) AND metric = 'received'), 0)
                + coalesce((SELECT sum(u.count)::int8 FROM hourly_packed p, unnest(p.metrics, p.counts) AS u(metric, count)
                            WHERE p.account_id = \(accountID) AND u.metric = 'received'), 0),
              coalesce((SELECT sum(count)::int8 FROM hourly_counts WHERE account_id = \(accountID) AND metric LIKE 'replied\\_%'), 0)
                + coalesce((SELECT sum(u.count)::int8 FROM hourly_packed p, unnest(p.metrics, p.counts) AS u(metric, count)
                            WHERE p.account_id = \(accountID) AND u.metric LIKE 'replied\\_%'), 0),
              (SELECT count(*)::int8 FROM conversations c WHERE c.account_id = \(accountID) AND c.paused_until > now()
                 AND (SELECT a.reason FROM activity a WHERE a.account_id = \(accountID) AND a.customer_id = c.customer_id
                      AND a.outcome = 'paused' ORDER BY a.id DESC LIMIT 1) = 'hand_off')
            """, logger: logger)
        var facts = AccountHealthFacts()
        for try await (instagram, rules, ai, iceBreakers, refusal, circuit, aiReply, failed, replied, failure, received, sent, waiting) in rows.decode(
            (String, Int64, Bool, Int64, String?, Date?, Date?, Int64, Int64, String?, Int64, Int64, Int64).self)
        {
            facts.instagram = instagram
            facts.rulesEnabled = Int(rules)
            facts.aiEnabled = ai
            facts.iceBreakers = Int(iceBreakers)
            facts.lastTokenRefusal = refusal
            facts.lastCircuitOpenAt = circuit
            facts.lastAIReplyAt = aiReply
            facts.failedLastHour = Int(failed)
            facts.repliedLastHour = Int(replied)
            facts.commonestFailure = failure
            facts.messagesReceived = Int(received)
            facts.repliesSent = Int(sent)
            facts.waitingForYou = Int(waiting)
        }
        return facts
    }
}
