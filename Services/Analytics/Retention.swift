import FlowtalkStore
import Foundation
import Logging
import NIOCore

/// The 90-day retention of the activity log: a queue job (`analytics.retention_purge`), scheduled once per UTC hour
/// with a dedupe key, so however many analytics replicas run, one of them purges at a time.
struct Retention: Sendable {
    let store: ActivityStore
    let queue: JobQueue
    let logger: Logger

    var handlers: [String: JobHandler] {
        [RetentionPurgeJob.kind: { _, logger in
            let deleted = try await store.purgeActivity()
            logger.info("Activity retention purge done", metadata: ["analytics.purged": "\(deleted)"])
        }]
    }

    /// Queues this hour's purge (a no-op when a replica already did).
    func schedule(now: Date = Date()) async throws {
        _ = try await queue.enqueue([RetentionPurgeJob.make(now: now)])
    }
}
