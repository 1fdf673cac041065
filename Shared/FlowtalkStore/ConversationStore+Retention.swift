import Foundation
import Logging
import PostgresNIO

/// How long customer ids live outside the activity log (issue 13, docs/privacy.md "Retention"): a conversation is needed
/// for cooldowns, pauses and AI limits (hours), a reply and its sent-message ids to never answer one message twice and
/// to know the bot's own echoes (days). All three go 30 days after their last use.
extension ConversationStore {
    package static let idleRetentionDays = 30

    /// Deletes conversations unused for `days` (and not paused beyond now), replies finished (or, never finished, begun)
    /// `days` ago and sent-message ids as old, in batches; returns how many rows went. A reply still unfinished after 30
    /// days can never be sent (its job left the queue at 25 hours at most).
    package func purgeIdle(olderThanDays days: Int = idleRetentionDays) async throws -> Int {
        let conversations = try await client.deleteInBatches(
            """
            WITH gone AS (DELETE FROM conversations WHERE ctid IN (
                SELECT ctid FROM conversations
                WHERE last_used_at < now() - \(days) * interval '1 day' AND (paused_until IS NULL OR paused_until < now())
                LIMIT 2000 FOR UPDATE SKIP LOCKED)
                RETURNING 1)
            SELECT count(*) FROM gone
            """, batch: 2000, logger: logger)
        let sent = try await client.deleteInBatches(
            """
            WITH gone AS (DELETE FROM sent_messages WHERE mid IN (
                SELECT mid FROM sent_messages WHERE created_at < now() - \(days) * interval '1 day' LIMIT 2000)
                RETURNING 1)
            SELECT count(*) FROM gone
            """, batch: 2000, logger: logger)
        let replies = try await client.deleteInBatches(
            """
            WITH gone AS (DELETE FROM replies WHERE id IN (
                SELECT id FROM replies
                WHERE COALESCE(finished_at, created_at) < now() - \(days) * interval '1 day'
                LIMIT 2000 FOR UPDATE SKIP LOCKED)
                RETURNING 1)
            SELECT count(*) FROM gone
            """, batch: 2000, logger: logger)
        return conversations + sent + replies
    }
}
