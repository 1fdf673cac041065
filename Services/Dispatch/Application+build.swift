import FlowtalkHTTP
import FlowtalkStore
import Hummingbird
import InstagramGraph
import Logging
import Prometheus

struct DispatchRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
}


/// flowtalk-dispatch: the queue workers and the queue's upkeep, with an HTTP side for health and metrics only.
func buildApplication(
    configuration: DispatchConfiguration, logger: Logger? = nil, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
    handlers: [String: JobHandler]? = nil
) async throws -> some ApplicationProtocol {
    let runtime = ServiceRuntime(label: "flowtalk-dispatch", common: configuration.common, logger: logger, registry: registry)
    let queue = JobQueue(client: runtime.postgres, logger: runtime.logger, metricsFactory: runtime.metricsFactory)
    let store = DispatchStore(client: runtime.postgres, logger: runtime.logger)
    let graph = GraphClient(configuration: configuration.graph)
    let inbound = InboundHandler(store: store, graph: graph, vault: configuration.vault)
    let accounts = AccountJobs(store: store, graph: graph, vault: configuration.vault, queue: queue)
    let worker = JobWorker(
        queue: queue, handlers: handlers ?? inbound.handlers.merging(accounts.handlers) { a, _ in a }, configuration: configuration.worker,
        ready: runtime.gate, logger: runtime.logger)
    let maintenance = QueueMaintenance(queue: queue, ready: runtime.gate)
    return Application(
        router: runtime.router(context: DispatchRequestContext.self),
        configuration: .init(address: .hostname(configuration.common.host, port: configuration.common.port), serverName: nil),
        services: runtime.services + [worker, maintenance, DispatchMaintenance(client: runtime.postgres, gate: runtime.gate, logger: runtime.logger)],
        logger: runtime.logger)
}
