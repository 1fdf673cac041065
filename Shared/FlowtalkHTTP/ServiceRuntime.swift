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
    package let postgres: PostgresClient
    /// The same pool, with a deadline on every call.
    package let database: Database
    package let gate: SchemaGate
    package let registry: PrometheusCollectorRegistry
    package let metricsFactory: PrometheusMetricsFactory

    /// A runtime named `flowtalk-<name>`; tests pass their own logger and registry.
    package init(label: String, common: CommonConfiguration, logger: Logger?, registry: PrometheusCollectorRegistry) {
        var logger = logger ?? Logger(label: label)
        logger.logLevel = common.logLevel
        self.logger = logger
        self.postgres = PostgresClient(configuration: common.database, backgroundLogger: logger)
        Database.defaultTimeout = common.databaseTimeout
        self.database = Database(postgres, timeout: common.databaseTimeout)
        self.gate = SchemaGate()
        self.registry = registry
        self.metricsFactory = PrometheusMetricsFactory(registry: registry)
    }

    /// A router with the error middleware and the health routes mounted.
    package func router<Context: RequestContext>(context: Context.Type) -> Router<Context> {
        let router = Router(context: Context.self)
        router.addMiddleware { ErrorMiddleware() }
        HealthRoutes(database: database, gate: gate, registry: registry).add(to: router)
        return router
    }

    /// The database client and the migrations, first in every service's group (they stop last).
    package var services: [any Service] {
        [postgres, MigrationService(client: postgres, gate: gate, logger: logger)]
    }
}
