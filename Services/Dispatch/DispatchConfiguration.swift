import AIReplies
import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import InstagramGraph

/// flowtalk-dispatch's configuration.
struct DispatchConfiguration: Sendable {
    /// How often the activity log's purge is queued and its oldest entry's age measured (hourly; tests shorten it).
    var retentionInterval: Duration = .seconds(3600)
    var common: CommonConfiguration
    var worker: JobWorkerConfiguration
    /// `TOKEN_ENCRYPTION_KEYS`: opens the stored Instagram tokens.
    var vault: TokenVault
    /// `INSTAGRAM_GRAPH_URL`, `IG_GRAPH_VERSION`, `GRAPH_TIMEOUT_SECONDS`.
    var graph: GraphConfiguration
    /// `GROQ_*`; nil (no key) turns AI replies off.
    var groq: GroqConfiguration?
    /// `AI_CONVERSATION_LIMIT`: AI answers per conversation within 24 hours.
    var aiConversationLimit = 10
    /// `AI_CIRCUIT_FAILURES` in a row open the breaker for `AI_CIRCUIT_OPEN_SECONDS`.
    var aiCircuitFailures = 5
    var aiCircuitOpenSeconds = 30

    init(
        common: CommonConfiguration, vault: TokenVault, graph: GraphConfiguration = .init(), worker: JobWorkerConfiguration = .init(),
        groq: GroqConfiguration? = nil
    ) {
        self.common = common
        self.groq = groq
        self.vault = vault
        self.graph = graph
        self.worker = worker
    }

    init(environment: ConfigEnvironment) throws {
        common = try CommonConfiguration(environment: environment, defaultPort: 8083)
        vault = try TokenVault(keyRing: try environment.requiredSecret("TOKEN_ENCRYPTION_KEYS"))
        graph = try GraphConfiguration(environment: environment)
        groq = try GroqConfiguration.fromEnvironment(environment)
        aiConversationLimit = try environment.int("AI_CONVERSATION_LIMIT", default: 10, range: 1...1000)
        aiCircuitFailures = try environment.int("AI_CIRCUIT_FAILURES", default: 5, range: 1...100)
        aiCircuitOpenSeconds = try environment.int("AI_CIRCUIT_OPEN_SECONDS", default: 30, range: 1...3600)
        worker = JobWorkerConfiguration()
        worker.loops = try environment.int("DISPATCH_WORKERS", default: 4, range: 1...64)
        worker.batchSize = try environment.int("DISPATCH_BATCH_SIZE", default: 8, range: 1...100)
        worker.lease = .seconds(try environment.int("DISPATCH_LEASE_SECONDS", default: 60, range: 5...3600))
        worker.heartbeat = worker.lease / 3
        // A DM's job: a few database calls, one AI answer (GROQ_TIMEOUT_SECONDS) and up to two Graph sends (GRAPH_TIMEOUT_SECONDS).
        worker.handlerTimeout = .seconds(try environment.int("DISPATCH_JOB_TIMEOUT_SECONDS", default: 90, range: 5...3600))
    }
}
