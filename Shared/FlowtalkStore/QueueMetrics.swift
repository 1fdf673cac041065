import CoreMetrics
import Metrics

/// The queue's metrics: enqueues, duplicates, enqueue→start latency, outcomes by kind, and depth gauges.
struct QueueMetrics: Sendable {
    let factory: any MetricsFactory

    func enqueued(kind: String, count: Int) {
        Counter(label: "flowtalk_jobs_enqueued_total", dimensions: [("kind", kind)], factory: factory).increment(by: count)
    }

    func duplicates(_ count: Int) {
        Counter(label: "flowtalk_jobs_duplicates_total", factory: factory).increment(by: count)
    }

    func started(kind: String, waitSeconds: Double) {
        Timer(label: "flowtalk_job_start_latency_seconds", dimensions: [("kind", kind)], factory: factory)
            .recordNanoseconds(Int64(waitSeconds * 1_000_000_000))
    }

    func outcome(kind: String, _ outcome: String) {
        Counter(label: "flowtalk_jobs_outcomes_total", dimensions: [("kind", kind), ("outcome", outcome)], factory: factory).increment()
    }

    func record(_ depth: QueueDepth) {
        for (state, value) in [("available", depth.available), ("scheduled", depth.scheduled), ("running", depth.running), ("dead", depth.dead)] {
            Gauge(label: "flowtalk_jobs_depth", dimensions: [("state", state)], factory: factory).record(value)
        }
        Gauge(label: "flowtalk_jobs_oldest_available_age_seconds", factory: factory).record(depth.oldestAvailableAgeSeconds)
    }
}
