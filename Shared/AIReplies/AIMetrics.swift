import Metrics

/// The AI path's metrics (docs/api.md lists them).
package struct AIMetrics: Sendable {
    let factory: any MetricsFactory

    package init(factory: any MetricsFactory = MetricsSystem.factory) { self.factory = factory }

    /// A call to the provider finished: `answered`, `cannot_help` or `failed`, and how long it took (retries included).
    package func call(outcome: String, seconds: Double) {
        Counter(label: "flowtalk_ai_calls_total", dimensions: [("outcome", outcome)], factory: factory).increment()
        Timer(label: "flowtalk_ai_call_duration_seconds", factory: factory).recordNanoseconds(Int64(seconds * 1_000_000_000))
    }

    /// Tokens used, from the response's `usage` (a negative count, which a Prometheus counter traps on, counts as 0).
    package func tokens(prompt: Int, completion: Int) {
        Counter(label: "flowtalk_ai_tokens_total", dimensions: [("kind", "prompt")], factory: factory).increment(by: max(prompt, 0))
        Counter(label: "flowtalk_ai_tokens_total", dimensions: [("kind", "completion")], factory: factory).increment(by: max(completion, 0))
    }

    /// No AI answer, by reason (`ai_timeout`, `ai_rate_limited`, …, and the limits: `ai_budget_exhausted`,
    /// `ai_conversation_limit`, `ai_circuit_open`).
    package func failure(reason: String) {
        Counter(label: "flowtalk_ai_failures_total", dimensions: [("reason", reason)], factory: factory).increment()
    }
}
