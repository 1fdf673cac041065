import Foundation
import NIOCore
import PostgresNIO

extension JobQueue {
    /// Deletes the queued jobs of one conversation (a customer's erasure), in the caller's transaction; returns how many.
    package func cancel(conversation key: String, on db: DatabaseConnection) async throws -> Int {
        for try await count in try await db.query(
            "WITH gone AS (DELETE FROM jobs WHERE serialization_key = \(key) RETURNING 1) SELECT count(*) FROM gone", logger: logger
        ).decode(Int.self) { return count }
        return 0
    }

    /// How many jobs of one conversation wait in the queue (a customer's export says so; their text is not exported).
    package func count(conversation key: String) async throws -> Int {
        for try await count in try await client.query("SELECT count(*) FROM jobs WHERE serialization_key = \(key)", logger: logger).decode(Int.self) {
            return count
        }
        return 0
    }

    /// Deletes up to `limit` waiting (not running) jobs carrying a customer's message that were queued more than `hours`
    /// ago, in the caller's transaction, and returns their kinds and payloads: Instagram's 24-hour reply window has
    /// closed, so the text has no use left (dead ones were emptied when they died).
    package func removeStalePrivateJobs(olderThanHours hours: Int, limit: Int, on db: DatabaseConnection) async throws -> [(kind: String, payload: ByteBuffer)] {
        var removed: [(kind: String, payload: ByteBuffer)] = []
        for try await row in try await db.query(
            """
            DELETE FROM jobs WHERE id IN (
                SELECT id FROM jobs
                WHERE starts_with(kind, \(Self.privatePayloadPrefix)) AND state IN ('available', 'scheduled')
                  AND created_at < now() - \(hours) * interval '1 hour'
                ORDER BY id LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING kind, payload
            """, logger: logger
        ).decode((String, ByteBuffer).self) { removed.append(row) }
        return removed
    }

    /// Whether a job with this dedupe key was enqueued (within the days its key is kept), whether or not it has run.
    package func wasEnqueued(dedupeKey: String) async throws -> Bool {
        for try await _ in try await client.query("SELECT 1 FROM job_dedupe WHERE key = \(dedupeKey)", logger: logger).decode(Int.self) {
            return true
        }
        return false
    }

    /// The payloads of the jobs of one kind still in the queue (waiting, running, retrying or dead), oldest first: for
    /// tests and operators that check what was queued.
    package func queuedPayloads(kind: String) async throws -> [ByteBuffer] {
        var payloads: [ByteBuffer] = []
        for try await payload in try await client.query(
            "SELECT payload FROM jobs WHERE kind = \(kind) ORDER BY id", logger: logger
        ).decode(ByteBuffer.self) { payloads.append(payload) }
        return payloads
    }
}
