import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import Hummingbird
import Logging
import Metrics
import PostgresNIO
import Prometheus

struct IngestRequestContext: PeerRequestContext {
    var coreContext: CoreRequestContextStorage
    let peerAddress: String?
    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerAddress = source.channel.peerIP
    }
}

func buildApplication(
    configuration: IngestConfiguration, logger: Logger? = nil, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
) async throws -> some ApplicationProtocol {
    let runtime = ServiceRuntime(label: "flowtalk-ingest", common: configuration.common, logger: logger, registry: registry)
    // Meta waits for the answer: an unreachable database is a 503 within 5 s at most, and Meta delivers again later.
    let enqueueDatabase = Database(runtime.postgres, timeout: min(configuration.common.databaseTimeout, .seconds(5)))
    let queue = JobQueue(client: enqueueDatabase, logger: runtime.logger, metricsFactory: runtime.metricsFactory)
    let enqueuer = BatchingEnqueuer(
        queue: queue, flushers: configuration.flushers, logger: runtime.logger, metricsFactory: runtime.metricsFactory)
    let router = runtime.router(context: IngestRequestContext.self)
    let verifier = WebhookSignatureVerifier(primarySecret: configuration.metaAppSecret, secondarySecret: configuration.instagramAppSecret)
    WebhookController<IngestRequestContext>(
        verifier: verifier, verifyToken: configuration.verifyToken, maxBodyBytes: configuration.maxBodyBytes,
        enqueuer: enqueuer, gate: runtime.gate, metrics: IngestMetrics(factory: runtime.metricsFactory)
    ).add(to: router)

    return try runtime.application(router: router, services: runtime.services + [enqueuer])
}
