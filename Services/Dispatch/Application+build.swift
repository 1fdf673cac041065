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
    // Inbound events are handled here; Ice Breaker sync and token refresh jobs are still to come (issue #3), and a
    // worker only claims kinds it has a handler for, so those wait in the queue untouched.
    let inbound = InboundHandler(
        store: DispatchStore(client: runtime.postgres, logger: runtime.logger), graph: GraphClient(configuration: configuration.graph),
        vault: configuration.vault)
    let worker = JobWorker(
        queue: queue, handlers: handlers ?? inbound.handlers, configuration: configuration.worker, ready: runtime.gate, logger: runtime.logger)
    let maintenance = QueueMaintenance(queue: queue, ready: runtime.gate)
    return Application(
        router: runtime.router(context: DispatchRequestContext.self),
        configuration: .init(address: .hostname(configuration.common.host, port: configuration.common.port), serverName: nil),
        services: runtime.services + [worker, maintenance],
        logger: runtime.logger)
}
