import FlowtalkCore
import FlowtalkHTTP

/// flowtalk-ingest's configuration.
struct IngestConfiguration: Sendable {
    var common: CommonConfiguration
    /// `META_APP_SECRET`: signs webhooks.
    var metaAppSecret: Secret<String>
    /// `INSTAGRAM_APP_SECRET` (optional): accepted as a second webhook signing secret (reference §2.1, §9).
    var instagramAppSecret: Secret<String>?
    /// `META_VERIFY_TOKEN`: the answer to the verification handshake.
    var verifyToken: Secret<String>
    /// `WEBHOOK_MAX_BODY_BYTES`: larger deliveries get 413.
    var maxBodyBytes: Int
    /// `INGEST_FLUSHERS`: concurrent group-commit writers.
    var flushers: Int

    init(common: CommonConfiguration, metaAppSecret: Secret<String>, instagramAppSecret: Secret<String>? = nil, verifyToken: Secret<String>,
         maxBodyBytes: Int = 1 << 20, flushers: Int = 2) {
        self.common = common
        self.metaAppSecret = metaAppSecret
        self.instagramAppSecret = instagramAppSecret
        self.verifyToken = verifyToken
        self.maxBodyBytes = maxBodyBytes
        self.flushers = flushers
    }

    init(environment: ConfigEnvironment) throws {
        common = try CommonConfiguration(environment: environment, defaultPort: 8082)
        metaAppSecret = try environment.requiredSecret("META_APP_SECRET")
        instagramAppSecret = environment.optional("INSTAGRAM_APP_SECRET").map(Secret.init)
        verifyToken = try environment.requiredSecret("META_VERIFY_TOKEN")
        maxBodyBytes = try environment.int("WEBHOOK_MAX_BODY_BYTES", default: 1 << 20, range: 1024...(16 << 20))
        flushers = try environment.int("INGEST_FLUSHERS", default: 2, range: 1...16)
        // Meta delivers webhooks over HTTPS only: outside development ingest speaks TLS or sits behind a trusted proxy.
        try common.requireHTTPSFront()
    }
}
