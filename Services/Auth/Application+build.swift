import AIReplies
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
    // Read the common-password list now, so a missing resource stops the service at start, not at the first sign-up.
    _ = CommonPasswords.list.count
    // The privacy policy page likewise: a missing template or a placeholder nobody fills stops the service at start.
    let policy = try PrivacyPolicy(template: try PrivacyPolicy.template(), facts: configuration.policyFacts)
    let runtime = ServiceRuntime(label: "flowtalk-auth", common: configuration.common, logger: logger, registry: registry)
    let sessions = SessionStore(client: runtime.database, logger: runtime.logger)
    let limiter = RateLimiter(client: runtime.database, logger: runtime.logger)
    var throttle = SignInThrottle(client: runtime.database, logger: runtime.logger)
    throttle.baseDelaySeconds = configuration.signInBaseDelaySeconds
    let hasher = try PasswordHasher(cost: configuration.bcryptCost, pepper: configuration.passwordPepper)
    let router = runtime.router(context: AuthRequestContext.self, publicURL: configuration.publicURL)
    DashboardRoutes(directory: configuration.dashboardDirectory, analyticsURL: configuration.analyticsURL, logger: runtime.logger).add(to: router)
    let api = router.group("api")
        .add(middleware: CSRFMiddleware(publicURL: configuration.publicURL))
        .add(middleware: SessionMiddleware(sessions: sessions, cookies: configuration.sessionCookies))
    let accountController = AccountController(
        client: runtime.database, sessions: sessions, limiter: limiter, hasher: hasher, cookies: configuration.sessionCookies,
        trustedProxies: configuration.common.trustedProxies, throttle: throttle, logger: runtime.logger,
        mails: AccountMails(vault: configuration.vault, publicURL: configuration.publicURL))
    PrivacyController(client: runtime.database, policy: policy, logger: runtime.logger).add(api: api, router: router)
    accountController.add(to: api.group("auth"))
    accountController.addEmailFlows(auth: api.group("auth"), api: api)
    AutomationController(client: runtime.database, logger: runtime.logger).add(to: api)
    CustomerController(client: runtime.database, limiter: limiter, logger: runtime.logger).add(to: api)
    HealthController(client: runtime.database, logger: runtime.logger).add(to: api)
    TryController(client: runtime.database, limiter: limiter, ai: configuration.groq.map { GroqClient(configuration: $0) }, logger: runtime.logger).add(to: api)
    ConversationController(client: runtime.database, limiter: limiter, logger: runtime.logger).add(to: api)
    let oauth = InstagramOAuth(configuration: configuration.instagram)
    InstagramController(
        client: runtime.database, oauth: oauth, vault: configuration.vault, publicURL: configuration.publicURL, limiter: limiter,
        logger: runtime.logger
    ).add(to: api)
    // Meta's callbacks come from Meta's servers: outside /api, so without the session and CSRF middleware.
    DataRightsController(
        client: runtime.database, oauth: oauth, vault: configuration.vault, hasher: hasher, limiter: limiter,
        callbackSecrets: configuration.callbackSecrets, publicURL: configuration.publicURL, cookies: configuration.sessionCookies,
        trustedProxies: configuration.common.trustedProxies, logger: runtime.logger
    ).add(api: api, router: router)
    // Auth's own jobs, on one queue worker: outgoing mail (`MailJob.kind`) and the hourly purge of its tables.
    let queue = JobQueue(client: runtime.database, logger: runtime.logger, metricsFactory: runtime.metricsFactory)
    let mail = MailSender(transport: try SMTPClient(configuration: configuration.smtp), vault: configuration.vault, metrics: runtime.metricsFactory)
    let housekeeping = Housekeeping(database: runtime.database, queue: queue, logger: runtime.logger)
    var workerConfiguration = JobWorkerConfiguration()
    workerConfiguration.loops = 1
    workerConfiguration.batchSize = 4
    let worker = JobWorker(
        queue: queue, handlers: mail.handlers.merging(housekeeping.handlers) { first, _ in first }, configuration: workerConfiguration,
        ready: runtime.gate, logger: runtime.logger)
    let scheduler = PeriodicScheduler("Auth purge", gate: runtime.gate, interval: configuration.purgeInterval, logger: runtime.logger) {
        try await housekeeping.schedule()
    }
    return try runtime.application(router: router, services: runtime.services + [worker, scheduler])
}
