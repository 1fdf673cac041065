import Foundation
import NIOCore
import PostgresNIO

/// One line of `flowtalk-admin status`: jobs of one kind in one state.
package struct QueueCount: Sendable, Equatable {
    package let kind: String
    package let state: String
    package let count: Int
    /// When the oldest of them is (or was) due.
    package let oldestDue: Date?
}

/// Dead jobs of one kind: how many, and the newest one's error.
package struct DeadJobs: Sendable, Equatable {
    package let kind: String
    package let count: Int
    package let lastError: String?
    package let lastDeadAt: Date?
}

/// What operators ask of the queue (`flowtalk-admin`): its contents by kind, its dead jobs, a retry of them, and the
/// sealed mail payloads a key rotation re-seals.
extension JobQueue {
    package func counts() async throws -> [QueueCount] {
        var counts: [QueueCount] = []
        for try await (kind, state, count, due) in try await client.query(
            "SELECT kind, state, count(*)::int8, min(run_at) FROM jobs GROUP BY kind, state ORDER BY kind, state", logger: logger
        ).decode((String, String, Int64, Date?).self) { counts.append(QueueCount(kind: kind, state: state, count: Int(count), oldestDue: due)) }
        return counts
    }

    package func deadJobs() async throws -> [DeadJobs] {
        var dead: [DeadJobs] = []
        for try await (kind, count, error, at) in try await client.query(
            """
            SELECT kind, count(*)::int8, (array_agg(last_error ORDER BY dead_at DESC NULLS LAST))[1], max(dead_at)
            FROM jobs WHERE state = 'dead' GROUP BY kind ORDER BY kind
            """, logger: logger
        ).decode((String, Int64, String?, Date?).self) { dead.append(DeadJobs(kind: kind, count: Int(count), lastError: error, lastDeadAt: at)) }
        return dead
    }

    /// Puts dead jobs (of one kind, or all) back in the queue, due now, with their attempts reset. A dead job carrying a
    /// customer's message had its payload emptied when it died (the privacy policy): it cannot run again and stays.
    /// Returns how many were retried and how many stayed for that reason.
    package func retryDead(kind: String?) async throws -> (retried: Int, emptied: Int) {
        try await client.withTransaction(logger: logger) { db -> (Int, Int) in
            var retried = 0
            var emptied = 0
            for try await count in try await db.query(
                """
                WITH again AS (
                    UPDATE jobs SET state = 'available', attempts = 0, run_at = now(), dead_at = NULL, last_error = NULL,
                        locked_until = NULL, locked_by = NULL, lease_id = NULL
                    WHERE state = 'dead' AND (\(kind)::text IS NULL OR kind = \(kind))
                      AND NOT (starts_with(kind, \(Self.privatePayloadPrefix)) AND length(payload) = 0)
                    RETURNING 1)
                SELECT count(*)::int8 FROM again
                """, logger: logger
            ).decode(Int64.self) { retried = Int(count) }
            for try await count in try await db.query(
                """
                SELECT count(*)::int8 FROM jobs WHERE state = 'dead' AND (\(kind)::text IS NULL OR kind = \(kind))
                  AND starts_with(kind, \(Self.privatePayloadPrefix)) AND length(payload) = 0
                """, logger: logger
            ).decode(Int64.self) { emptied = Int(count) }
            return (retried, emptied)
        }
    }

    /// When this hour's (or the latest) activity purge was queued: its dedupe key's time, and whether it still waits.
    package func lastQueued(dedupePrefix prefix: String, kind: String) async throws -> (queuedAt: Date?, waiting: Int) {
        var queued: Date?
        for try await at in try await client.query(
            "SELECT max(created_at) FROM job_dedupe WHERE starts_with(key, \(prefix))", logger: logger
        ).decode(Date?.self) { queued = at }
        var waiting = 0
        for try await n in try await client.query("SELECT count(*)::int8 FROM jobs WHERE kind = \(kind) AND state <> 'dead'", logger: logger)
            .decode(Int64.self) { waiting = Int(n) }
        return (queued, waiting)
    }

    /// Sealed payloads of jobs of `kind` after job id `after`, oldest first (a key rotation's page).
    package func payloads(kind: String, after: Int64, limit: Int) async throws -> [(id: Int64, payload: [UInt8])] {
        var rows: [(id: Int64, payload: [UInt8])] = []
        for try await (id, payload) in try await client.query(
            "SELECT id, payload FROM jobs WHERE kind = \(kind) AND id > \(after) AND length(payload) > 0 ORDER BY id LIMIT \(limit)", logger: logger
        ).decode((Int64, ByteBuffer).self) { rows.append((id, Array(buffer: payload))) }
        return rows
    }

    /// Replaces a job's payload if it is still `old` and the job is not running; true when replaced.
    package func replacePayload(id: Int64, old: [UInt8], new: [UInt8]) async throws -> Bool {
        for try await _ in try await client.query(
            """
            UPDATE jobs SET payload = \(ByteBuffer(bytes: new))
            WHERE id = \(id) AND payload = \(ByteBuffer(bytes: old)) AND state <> 'running' RETURNING 1
            """, logger: logger
        ).decode(Int.self) { return true }
        return false
    }
}
