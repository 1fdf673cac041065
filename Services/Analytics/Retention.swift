import FlowtalkStore
import Foundation
import Logging
import NIOCore

/// The 90-day retention of the activity log, and the packing of past hours' counters (`hourly_packed`): a queue job
/// (`analytics.retention_purge`), scheduled once per UTC hour with a dedupe key, so however many analytics replicas run,
/// one of them does it at a time.
struct Retention: Sendable {
    let store: ActivityStore
    let queue: JobQueue
    let logger: Logger

    var handlers: [String: JobHandler] {
        [RetentionPurgeJob.kind: { _, logger in
            let deleted = try await store.purgeActivity()
            logger.info("Activity retention purge done", metadata: ["analytics.purged": "\(deleted)"])
            // The hours that are over: their counters packed into one row each, so statistics read few rows.
            let folded = try await store.compactCounts()
            if folded > 0 { logger.info("Past hours' counters packed", metadata: ["analytics.packed": "\(folded)"]) }
            // Hours packed before migration 29 get their hash and bytes, so the statistics read them the fast way.
            let derived = try await store.deriveOldPackedRows()
            if derived > 0 { logger.info("Old packed hours derived", metadata: ["analytics.derived": "\(derived)"]) }
        }]
    }

    /// Queues this hour's purge (a no-op when a replica already did).
    func schedule(now: Date = Date()) async throws {
        _ = try await queue.enqueue([RetentionPurgeJob.make(now: now)])
    }
}
