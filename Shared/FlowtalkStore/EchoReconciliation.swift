import Foundation
import Logging
import PostgresNIO

extension ConversationStore {
    /// How long after a reply's latest send began an echo may still be its message: two Graph sends fit in it.
    package static let echoWindowSeconds = 120

    /// An echo of a message Flowtalk sent whose send was interrupted (its reply is `unknown`: a crash between the Graph
    /// call and recording it, or no answer from the Graph API). The echo proves the message went out: the customer's
    /// reply becomes `sent` (`confirmed_by_echo`) and the message id is recorded, so the echo is not taken for a person
    /// answering from the Instagram app. Returns the reply, the state it had (`unknown` on the first message of it, `sent`
    /// on a second one) and when it was found unknown (its counts belong to that hour), or nil when no interrupted reply
    /// of this customer fits the echo's time.
    package func confirmBySentEcho(mid: String, accountID: UUID, customerID: String, echoAtMs: Int64, on connection: DatabaseConnection)
        async throws -> (reply: ReplyRecord, was: String, decidedAt: Date)?
    {
        let rows = try await connection.collect(
            """
            WITH candidate AS (
                SELECT id, state FROM replies
                WHERE account_id = \(accountID) AND customer_id = \(customerID)
                  AND (state = 'unknown' OR (state = 'sent' AND error = 'confirmed_by_echo'
                       -- a reply is at most two messages: a confirmed one takes one more echo, then no more
                       AND (SELECT count(*) FROM sent_messages m WHERE m.reply_id = replies.id) < 2))
                  -- from when its latest send began: a reply parked for a retry is sent long after it was created
                  AND to_timestamp(\(Double(echoAtMs) / 1000)) BETWEEN COALESCE(sending_at, created_at) - interval '5 seconds'
                                                               AND COALESCE(sending_at, created_at) + \(Self.echoWindowSeconds) * interval '1 second'
                ORDER BY COALESCE(sending_at, created_at) DESC LIMIT 1
                FOR UPDATE
            )
            UPDATE replies r SET state = 'sent', error = 'confirmed_by_echo', finished_at = COALESCE(r.finished_at, now())
            FROM candidate WHERE r.id = candidate.id
            RETURNING r.id, candidate.state, r.source, r.rule_id, r.note, r.finished_at
            """, logger: logger)
        var confirmed: (reply: ReplyRecord, was: String, decidedAt: Date)?
        for try await (id, was, source, ruleID, note, decidedAt) in rows.decode((Int64, String, String, UUID?, String?, Date).self) {
            confirmed = (ReplyRecord(id: id, state: "sent", source: source, ruleID: ruleID, note: note), was, decidedAt)
        }
        guard let confirmed else { return nil }
        try await recordSent(messageIDs: [mid], accountID: accountID, replyID: confirmed.reply.id, on: connection)
        return confirmed
    }
}
