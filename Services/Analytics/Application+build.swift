import FlowtalkHTTP
import FlowtalkStore
import Hummingbird
import Logging
import Prometheus

typealias AnalyticsRequestContext = SignedInRequestContext

/// flowtalk-analytics: the statistics and activity APIs (read-only, for the dashboard, with auth's session cookie) and
/// the 90-day retention purge of the activity log.
func buildApplication(
    configuration: AnalyticsConfiguration, logger: Logger? = nil, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
) async throws -> some ApplicationProtocol {
    let runtime = ServiceRuntime(label: "flowtalk-analytics", common: configuration.common, logger: logger, registry: registry)
    let router = runtime.router(context: AnalyticsRequestContext.self)
    // The dashboard is served by auth, on another origin: only it may read these answers, with its cookie.
    router.add(middleware: DashboardCORSMiddleware(origin: configuration.dashboardOrigin))
    let api = router.group("api").add(middleware: SessionMiddleware(
        sessions: SessionStore(client: runtime.database, logger: runtime.logger), cookies: SessionCookies(mode: configuration.common.mode)))
    StatsController(
        store: ActivityStore(client: runtime.database, logger: runtime.logger), automation: AutomationStore(client: runtime.database, logger: runtime.logger)
    ).add(to: api)
    ConversationsController(store: ActivityStore(client: runtime.database, logger: runtime.logger)).add(to: api)

    let queue = JobQueue(client: runtime.database, logger: runtime.logger, metricsFactory: runtime.metricsFactory)
    let retention = Retention(store: ActivityStore(client: runtime.database, logger: runtime.logger), queue: queue, logger: runtime.logger)
    // Queues the hourly purge (dispatch queues it too) and shows the oldest entry's age.
    let backstop = RetentionBackstop(database: runtime.database, queue: queue, metricsFactory: runtime.metricsFactory, logger: runtime.logger)
    var workerConfiguration = JobWorkerConfiguration()
    workerConfiguration.loops = 1
    workerConfiguration.batchSize = 1
    workerConfiguration.lease = .seconds(120)
    workerConfiguration.heartbeat = .seconds(30)
    let worker = JobWorker(queue: queue, handlers: retention.handlers, configuration: workerConfiguration, ready: runtime.gate, logger: runtime.logger)
    return try runtime.application(
        router: router,
        services: runtime.services + [worker, PeriodicScheduler("Retention purge", gate: runtime.gate, interval: configuration.retentionInterval, logger: runtime.logger) { try await backstop.tick() }])
}
