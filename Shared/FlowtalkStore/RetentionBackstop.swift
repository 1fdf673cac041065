import CoreMetrics
import FlowtalkContracts
import Foundation
import Logging
import PostgresNIO

/// The 90-day purge of the activity log, and what shows when it stops. Each tick queues this hour's purge (analytics
/// runs it; its dedupe key keeps it to one run an hour however many services and replicas queue it) and records the
/// oldest entry's age as `flowtalk_activity_oldest_age_seconds`: past 91 days (7,862,400 s) the purge has stopped.
/// Analytics and dispatch both tick: analytics' scheduler stopping does not stop the purge being queued, and a stopped
/// analytics worker (the only one that runs it) shows on the gauge of either service.
package struct RetentionBackstop: Sendable {
    let store: ActivityStore
    let queue: JobQueue
    let gauge: Gauge

    package init(database: Database, queue: JobQueue, metricsFactory: any MetricsFactory, logger: Logger) {
        store = ActivityStore(client: database, logger: logger)
        self.queue = queue
        gauge = Gauge(label: "flowtalk_activity_oldest_age_seconds", factory: metricsFactory)
    }

    /// Queues this hour's purge and records the oldest entry's age (0 for an empty log).
    package func tick(now: Date = Date()) async throws {
        _ = try await queue.enqueue([RetentionPurgeJob.make(now: now)])
        gauge.record(try await store.oldestEntryAgeSeconds() ?? 0)
    }
}

extension ActivityStore {
    /// How old the oldest activity entry is, in seconds; nil when the log is empty. One index read (`activity_time`).
    package func oldestEntryAgeSeconds() async throws -> Double? {
        for try await age in try await client.query(
            "SELECT EXTRACT(EPOCH FROM now() - min(occurred_at))::float8 FROM activity", logger: logger
        ).decode(Double?.self) { return age }
        return nil
    }
}
