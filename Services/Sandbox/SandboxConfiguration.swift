import FlowtalkCore
import Foundation

/// flowtalk-sandbox's configuration (development and tests only; never deployed).
struct SandboxConfiguration: Sendable {
    var host = "127.0.0.1"
    var port = 8090
    /// `SANDBOX_SMTP_PORT`: where the SMTP catcher listens (on `host`); 0 picks a free one. Unset, 8091 next to the default
    /// HTTP port 8090 (`make run`), and a free one when the sandbox runs elsewhere (tests and scripts that start several
    /// sandboxes at once, which would fight over 8091).
    var smtpPort = 8091
    /// Signs the webhooks the simulator posts, as Meta would (must match ingest's `META_APP_SECRET`).
    var appSecret: Secret<String>
    /// Where simulated webhooks go.
    var ingestURL = "http://127.0.0.1:8082"
    /// `SANDBOX_CA_FILE`: a PEM file of the certificate authority to trust for an `https` `INGEST_URL` with a private
    /// certificate (`make run-scaled` posts through nginx); unset, the system's roots.
    var ingestCAFile: String?
    /// Accounts known from the start: `ig_id:username:token` entries, comma-separated (`SANDBOX_ACCOUNTS`).
    var accounts: [SandboxAccount] = []
    /// `SANDBOX_SUBSCRIBED`: ids of accounts whose webhooks are subscribed from the start (connected before the sandbox
    /// started, as make run's seeded shops), comma-separated; the others are not until `POST /{ig_id}/subscribed_apps`.
    var subscribed: [String] = []
    /// Whether each sent message is echoed back to ingest as Instagram does.
    var echoes = true
    /// The account the OAuth authorize page approves (`SANDBOX_OAUTH_ACCOUNT`; default: the first).
    var oauthAccount: String?
    var logLevel = "info"

    init(appSecret: Secret<String>, ingestURL: String = "http://127.0.0.1:8082", accounts: [SandboxAccount] = [], port: Int = 8090) {
        self.appSecret = appSecret
        self.ingestURL = ingestURL
        self.accounts = accounts
        self.port = port
        self.smtpPort = port == 0 ? 0 : 8091
    }

    init(environment: ConfigEnvironment) throws {
        host = environment.optional("HOST") ?? "127.0.0.1"
        port = try environment.int("PORT", default: 8090, range: 0...65535)
        smtpPort = try environment.int("SANDBOX_SMTP_PORT", default: port == 8090 ? 8091 : 0, range: 0...65535)
        appSecret = try environment.requiredSecret("META_APP_SECRET")
        ingestURL = try environment.url("INGEST_URL", default: "http://127.0.0.1:8082")
        echoes = try environment.bool("SANDBOX_ECHOES", default: true)
        ingestCAFile = environment.optional("SANDBOX_CA_FILE")
        if let file = ingestCAFile, !FileManager.default.isReadableFile(atPath: file) {
            throw ConfigurationError.malformed("SANDBOX_CA_FILE", "no readable PEM file at that path")
        }
        logLevel = environment.optional("LOG_LEVEL") ?? "info"
        oauthAccount = environment.optional("SANDBOX_OAUTH_ACCOUNT")
        subscribed = (environment.optional("SANDBOX_SUBSCRIBED") ?? "").split(separator: ",").map(String.init)
        for entry in (environment.optional("SANDBOX_ACCOUNTS") ?? "").split(separator: ",") {
            let parts = entry.split(separator: ":", maxSplits: 2).map(String.init)
            guard parts.count == 3 else { throw ConfigurationError.malformed("SANDBOX_ACCOUNTS", "expected ig_id:username:token entries") }
            accounts.append(SandboxAccount(igID: parts[0], username: parts[1], token: parts[2]))
        }
    }
}

struct SandboxAccount: Sendable, Codable, Equatable {
    var igID: String
    var username: String
    var token: String

    /// The app-scoped id Instagram Login gives this account (`/me.id`, and the code exchange's `user_id`): a number
    /// other than the IG user id, as on Meta, so a callback matched on the wrong id fails in tests.
    var appScopedID: String { "9" + String(igID.filter(\.isNumber).reversed()) }

    enum CodingKeys: String, CodingKey {
        case igID = "ig_id"
        case username, token
    }
}
