import Metrics

/// What dispatch decided for each customer event, for Prometheus (docs/api.md, "flowtalk-dispatch"): one count per
/// activity entry by outcome (`replied`, `skipped`, `failed`, `unknown`, `paused`), and the webhook→reply latency of
/// each reply sent, a histogram (`flowtalk_reply_latency_seconds_bucket`) so p50/p99 can be taken across replicas
/// (its buckets are set in `ServiceRuntime`).
/// Counted after the transaction that recorded them commits; a run that lost its race counts nothing.
struct ReplyMetrics: Sendable {
    let factory: any MetricsFactory

    init(factory: any MetricsFactory = MetricsSystem.factory) { self.factory = factory }

    func decided(_ outcome: String) {
        Counter(label: "flowtalk_replies_total", dimensions: [("outcome", outcome)], factory: factory).increment()
    }

    func replied(latencyMs: Int) {
        Timer(label: "flowtalk_reply_latency_seconds", preferredDisplayUnit: .seconds, factory: factory)
            .recordMilliseconds(max(latencyMs, 0))
    }
}
