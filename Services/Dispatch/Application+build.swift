import AIReplies
import FlowtalkHTTP
import FlowtalkStore
import Hummingbird
import InstagramGraph
import Logging
import Prometheus

struct DispatchRequestContext: PeerRequestContext {
    var coreContext: CoreRequestContextStorage
    let peerAddress: String?
    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerAddress = source.channel.peerIP
    }
}


/// flowtalk-dispatch: the queue workers and the queue's upkeep, with an HTTP side for health and metrics only.
func buildApplication(
    configuration: DispatchConfiguration, logger: Logger? = nil, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
    handlers: [String: JobHandler]? = nil
) async throws -> some ApplicationProtocol {
    let runtime = ServiceRuntime(label: "flowtalk-dispatch", common: configuration.common, logger: logger, registry: registry)
    let queue = JobQueue(client: runtime.database, logger: runtime.logger, metricsFactory: runtime.metricsFactory)
    let store = DispatchStores(client: runtime.database, logger: runtime.logger)
    let graph = GraphClient(configuration: configuration.graph)
    let ai = AIResponder(
        client: configuration.groq.map { GroqClient(configuration: $0) }, store: store,
        breaker: CircuitBreaker(threshold: configuration.aiCircuitFailures, openFor: .seconds(Int64(configuration.aiCircuitOpenSeconds))),
        metrics: AIMetrics(factory: runtime.metricsFactory), conversationLimit: configuration.aiConversationLimit)
    if ai.available {
        runtime.logger.info("AI replies available", metadata: ["ai.model": "\(configuration.groq?.model ?? "")"])
    } else {
        runtime.logger.info("AI replies off: GROQ_API_KEY is not set")
    }
    let inbound = InboundHandler(store: store, sender: graph, vault: configuration.vault, ai: ai, metricsFactory: runtime.metricsFactory)
    let accounts = AccountJobs(store: store, graph: graph, vault: configuration.vault, queue: queue)
    let worker = JobWorker(
        queue: queue, handlers: handlers ?? inbound.handlers.merging(accounts.handlers) { a, _ in a }.merging(ConversationJobs(ledger: inbound.ledger).handlers) { a, _ in a }, configuration: configuration.worker,
        ready: runtime.gate, logger: runtime.logger)
    let maintenance = QueueMaintenance(queue: queue, ready: runtime.gate)
    // The 90-day purge's backstop: dispatch queues analytics' purge too, and shows the oldest activity entry's age.
    let backstop = RetentionBackstop(database: runtime.database, queue: queue, metricsFactory: runtime.metricsFactory, logger: runtime.logger)
    let retention = PeriodicScheduler("Retention purge backstop", gate: runtime.gate, interval: configuration.retentionInterval, logger: runtime.logger) {
        try await backstop.tick()
    }
    return try runtime.application(
        router: runtime.router(context: DispatchRequestContext.self),
        services: runtime.services + [
            worker, maintenance, retention, DispatchMaintenance(client: runtime.database, gate: runtime.gate, logger: runtime.logger),
        ])
}
