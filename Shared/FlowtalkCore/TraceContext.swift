import Tracing

/// Carries a trace from one service to the next through the queue: ingest writes the W3C trace context of the webhook's
/// span into the job (`InboundEvent.traceParent`/`traceState`), and dispatch continues the trace from it. Empty and
/// free when tracing is off (the default `NoOpTracer` injects nothing).
package enum TraceContext {
    /// The current span's `traceparent` and `tracestate`, or nil when nothing is being traced.
    package static func current() -> (parent: String, state: String?)? {
        guard let context = ServiceContext.current else { return nil }
        var carrier: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &carrier, using: DictionaryInjector())
        guard let parent = carrier["traceparent"] else { return nil }
        return (parent, carrier["tracestate"])
    }

    /// The context a job's work continues in: the sender's trace when the job carries one, else a new one.
    package static func context(parent: String?, state: String?) -> ServiceContext {
        var context = ServiceContext.topLevel
        guard let parent else { return context }
        var carrier = ["traceparent": parent]
        if let state { carrier["tracestate"] = state }
        InstrumentationSystem.instrument.extract(carrier, into: &context, using: DictionaryExtractor())
        return context
    }
}

private struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}

private struct DictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}
