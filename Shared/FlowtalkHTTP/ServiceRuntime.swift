import FlowtalkStore
import Hummingbird
import Logging
import Metrics
import PostgresNIO
import Prometheus
import ServiceLifecycle

/// What every service's `buildApplication` starts from: its logger, database client, migration gate and metrics.
package struct ServiceRuntime: Sendable {
    package let logger: Logger
    /// What the service was configured with.
    package let common: CommonConfiguration
    package let postgres: PostgresClient
    /// The same pool, with a deadline on every call.
    package let database: Database
    package let gate: SchemaGate
    package let registry: PrometheusCollectorRegistry
    package let metricsFactory: PrometheusMetricsFactory
    /// `flowtalk-<name>`.
    package let label: String

    /// A runtime named `flowtalk-<name>`; tests pass their own logger and registry.
    package init(label: String, common: CommonConfiguration, logger: Logger?, registry: PrometheusCollectorRegistry) {
        var logger = logger ?? Logger(label: label)
        logger.logLevel = common.logLevel
        self.logger = logger
        self.common = common
        self.postgres = PostgresClient(configuration: common.database, backgroundLogger: logger)
        Database.defaultTimeout = common.databaseTimeout
        self.database = Database(postgres, timeout: common.databaseTimeout)
        self.gate = SchemaGate()
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        // Dispatch's webhook→reply latency (ReplyMetrics): rules answer in milliseconds, the AI in seconds.
        factory.durationHistogramBuckets["flowtalk_reply_latency_seconds"] =
            [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60].map { .milliseconds(Int64($0 * 1000)) }
        self.metricsFactory = factory
        self.label = label
    }

    var processMetrics: ProcessMetrics { ProcessMetrics(factory: metricsFactory, service: label) }

    /// A router with HTTPS enforcement, the error middleware and the health routes mounted. `publicURL`: the https
    /// address users reach the service at, if it has one (plain-HTTP GETs through the proxy are redirected there).
    package func router<Context: PeerRequestContext>(context: Context.Type, publicURL: String? = nil) -> Router<Context> {
        let router = Router(context: Context.self)
        router.addMiddleware {
            RequestObservabilityMiddleware<Context>(factory: metricsFactory)
            TransportSecurityMiddleware(
                mode: common.mode, trustedProxies: common.trustedProxies, directTLS: common.server.tls != nil, publicURL: publicURL)
            ErrorMiddleware()
        }
        HealthRoutes(database: database, gate: gate, registry: registry, process: processMetrics, serveMetrics: common.metricsPort == nil).add(to: router)
        return router
    }

    /// The service's application: its router on the configured address, with the server settings (TLS, idle timeout,
    /// header limits) every service shares.
    package func application<Context: RequestContext>(
        router: Router<Context>, services: [any Service]
    ) throws -> Application<RouterResponder<Context>> where Context.Source == ApplicationRequestContextSource {
        Application(
            router: router, server: try common.server.serverBuilder(),
            configuration: .init(address: .hostname(common.host, port: common.port), serverName: nil),
            services: services, logger: logger)
    }

    /// The trace exporter when tracing is on, the database client and the migrations, first in every service's group
    /// (they stop last).
    package var services: [any Service] {
        (ServiceTracing.service.map { [$0] } ?? []) + [postgres, MigrationService(client: postgres, gate: gate, logger: logger, migrate: common.migrate)]
            + (metricsServer.map { [$0] } ?? [])
    }

    /// `/metrics` alone on `METRICS_PORT`, when set: scrapers reach it, the public port does not serve it.
    var metricsServer: (any Service)? {
        guard let port = common.metricsPort else { return nil }
        let router = Router()
        let (registry, process) = (registry, processMetrics)
        router.get("/metrics") { _, _ in HealthRoutes<BasicRequestContext>.metricsResponse(registry, process) }
        return Application(router: router, configuration: .init(address: .hostname(common.host, port: port), serverName: nil), logger: logger)
    }
}
