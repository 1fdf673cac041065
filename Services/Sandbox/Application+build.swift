import FlowtalkHTTP
import Hummingbird
import Logging

struct SandboxRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
}

/// flowtalk-sandbox: stand-ins for Instagram's Graph API and Instagram Login, Groq, and a customer simulator, over
/// real HTTP, and an SMTP catcher for outgoing mail (`SMTPCatcher`, `GET /sandbox/mail`). The webhooks it posts
/// (echoes, simulated DMs and taps) go through `WebhookSender`, one of the application's services, so they stop with it.
func buildApplication(configuration: SandboxConfiguration, logger: Logger? = nil, mailbox: Mailbox = Mailbox()) async throws
    -> some ApplicationProtocol
{
    var logger = logger ?? Logger(label: "flowtalk-sandbox")
    logger.logLevel = Logger.Level(rawValue: configuration.logLevel) ?? .info
    let state = SandboxState(accounts: configuration.accounts)
    for igID in configuration.subscribed { await state.subscribe(GraphAccountRoutes.connectFields, account: igID) }
    // Whatever can fail comes first: the sender's own client (SANDBOX_CA_FILE) must reach run(), which shuts it down.
    let server = try HTTPServerSettings().serverBuilder()
    let webhooks = WebhookSender(ingestURL: configuration.ingestURL, secret: configuration.appSecret, caFile: configuration.ingestCAFile, logger: logger)
    return Application(
        router: buildRouter(configuration: configuration, state: state, webhooks: webhooks, mailbox: mailbox),
        server: server,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
        services: [webhooks, SMTPCatcher(host: configuration.host, port: configuration.smtpPort, mailbox: mailbox, logger: logger)], logger: logger)
}

/// Every route, by the system it fakes.
func buildRouter(configuration: SandboxConfiguration, state: SandboxState, webhooks: WebhookSender, mailbox: Mailbox = Mailbox())
    -> Router<SandboxRequestContext>
{
    let router = Router(context: SandboxRequestContext.self)
    router.addMiddleware { ErrorMiddleware() }
    router.get("/healthz") { _, _ in HealthRoutes<SandboxRequestContext>.status(.ok, "ok") }
    router.get("/readyz") { _, _ in HealthRoutes<SandboxRequestContext>.status(.ok, "ready") }
    GraphSendRoutes(state: state, webhooks: webhooks, echoes: configuration.echoes).add(to: router)
    GraphAccountRoutes(state: state).add(to: router)
    InstagramOAuthRoutes(state: state, oauthAccount: configuration.oauthAccount).add(to: router)
    GroqRoutes(state: state).add(to: router)
    SimulatorRoutes(state: state, webhooks: webhooks).add(to: router)
    SandboxControlRoutes(state: state).add(to: router)
    MailRoutes(mailbox: mailbox).add(to: router)
    return router
}
