import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import Hummingbird
import InstagramGraph
import Logging
import Mail
import Prometheus

typealias AuthRequestContext = SignedInRequestContext

func buildApplication(
    configuration: AuthConfiguration, logger: Logger? = nil, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
) async throws -> some ApplicationProtocol {
    let runtime = ServiceRuntime(label: "flowtalk-auth", common: configuration.common, logger: logger, registry: registry)
    let sessions = SessionStore(client: runtime.database, logger: runtime.logger)
    let limiter = RateLimiter(client: runtime.database, logger: runtime.logger)
    let hasher = try PasswordHasher(cost: configuration.bcryptCost, pepper: configuration.passwordPepper)
    let router = runtime.router(context: AuthRequestContext.self)
    DashboardRoutes(directory: configuration.dashboardDirectory, analyticsURL: configuration.analyticsURL, logger: runtime.logger).add(to: router)
    let api = router.group("api")
        .add(middleware: CSRFMiddleware(publicURL: configuration.publicURL))
        .add(middleware: SessionMiddleware(sessions: sessions))
    AccountController(
        client: runtime.database, sessions: sessions, limiter: limiter, hasher: hasher, cookieSecure: configuration.cookieSecure,
        trustedProxies: configuration.trustedProxies, logger: runtime.logger
    ).add(to: api.group("auth"))
    AutomationController(client: runtime.database, logger: runtime.logger).add(to: api)
    let oauth = InstagramOAuth(configuration: configuration.instagram)
    InstagramController(
        client: runtime.database, oauth: oauth, vault: configuration.vault, publicURL: configuration.publicURL, limiter: limiter,
        logger: runtime.logger
    ).add(to: api)
    // Meta's callbacks come from Meta's servers: outside /api, so without the session and CSRF middleware.
    DataRightsController(
        client: runtime.database, oauth: oauth, vault: configuration.vault, hasher: hasher, limiter: limiter,
        appSecret: configuration.instagram.appSecret, publicURL: configuration.publicURL, cookieSecure: configuration.cookieSecure,
        logger: runtime.logger
    ).add(api: api, router: router)
    // Outgoing mail: auth's own queue worker, for `MailJob.kind` only.
    let queue = JobQueue(client: runtime.database, logger: runtime.logger, metricsFactory: runtime.metricsFactory)
    let mail = MailSender(transport: try SMTPClient(configuration: configuration.smtp), vault: configuration.vault, metrics: runtime.metricsFactory)
    var workerConfiguration = JobWorkerConfiguration()
    workerConfiguration.loops = 1
    workerConfiguration.batchSize = 4
    let mailWorker = JobWorker(queue: queue, handlers: mail.handlers, configuration: workerConfiguration, ready: runtime.gate, logger: runtime.logger)
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.common.host, port: configuration.common.port), serverName: nil),
        services: runtime.services + [mailWorker],
        logger: runtime.logger)
}
