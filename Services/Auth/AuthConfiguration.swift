import AIReplies
import Crypto
import FlowtalkCore
import FlowtalkHTTP
import Foundation
import InstagramGraph
import Mail

/// flowtalk-auth's configuration.
struct AuthConfiguration: Sendable {
    var common: CommonConfiguration
    /// `PUBLIC_URL`: where the dashboard is served; the only origin allowed to change state.
    var publicURL: String
    /// `COOKIE_SECURE` (default true): `make run` turns it off for plain-http localhost; refused outside development.
    var cookieSecure: Bool
    /// `PASSWORD_PEPPER`: the server-side key of the password pre-hash (never stored in the database).
    var passwordPepper: Secret<String>
    /// `BCRYPT_COST` (default 12).
    var bcryptCost: Int
    /// `META_APP_ID`, `META_APP_SECRET`, `INSTAGRAM_OAUTH_URL`, `INSTAGRAM_API_URL`, `INSTAGRAM_GRAPH_URL`.
    var instagram: InstagramOAuth.Configuration
    /// `INSTAGRAM_APP_SECRET` (optional): a second secret Meta's deauthorize and data-deletion callbacks may be signed
    /// with (reference §6.1: which app's secret signs them is not documented), as ingest accepts for webhooks.
    var instagramAppSecret: Secret<String>? = nil
    /// `TOKEN_ENCRYPTION_KEYS`: seals the tokens of connected accounts.
    var vault: TokenVault
    /// `ANALYTICS_URL`: where the dashboard finds flowtalk-analytics (told to it by `GET /api/config`, allowed by its CSP).
    var analyticsURL = "http://127.0.0.1:8084"
    /// `DASHBOARD_DIR`: the dashboard's static files; unset, `Services/Dashboard` is looked for from the working directory
    /// and from the executable's.
    var dashboardDirectory: String? = nil
    /// How often the purge of expired sessions, OAuth states and counters is queued (once per hour; tests shorten it).
    var purgeInterval: Duration = .seconds(3600)
    /// The first wait after a client's free sign-in failures (`SignInThrottle`); tests lengthen it.
    var signInBaseDelaySeconds = 1
    /// `OPERATOR_NAME` and `PRIVACY_CONTACT`: who runs this deployment and where privacy requests go, named on the
    /// privacy policy page (`GET /privacy`). Required outside development.
    var operatorName = "the operator of this Flowtalk development service"
    var privacyContact = "privacy@localhost"
    /// The AI provider the policy page names: the host of `GROQ_BASE_URL` (the variable flowtalk-dispatch reads).
    var aiProviderHost = "api.groq.com"
    /// `GROQ_*`, as flowtalk-dispatch reads them: "Try the bot" asks the same AI when the key is set here too.
    var groq: GroqConfiguration? = nil
    /// `SMTP_URL`, `SMTP_CA_FILE`, `MAIL_FROM`: outgoing mail (by default the sandbox's catcher, as in development).
    var smtp = try! SMTPConfiguration(
        url: SMTPConfiguration.developmentURL, from: try! MailAddress(parsing: SMTPConfiguration.developmentFrom), mode: .development)

    /// Every secret is given: there are no defaults to fall back on (tests pass FlowtalkTesting's TestSecrets).
    init(common: CommonConfiguration, publicURL: String = "http://127.0.0.1:8081", cookieSecure: Bool = true,
         passwordPepper: Secret<String>, bcryptCost: Int,
         instagram: InstagramOAuth.Configuration, vault: TokenVault) {
        self.common = common
        self.publicURL = publicURL
        self.cookieSecure = cookieSecure
        self.passwordPepper = passwordPepper
        self.bcryptCost = bcryptCost
        self.instagram = instagram
        self.vault = vault
    }

    init(environment: ConfigEnvironment) throws {
        common = try CommonConfiguration(environment: environment, defaultPort: 8081)
        publicURL = try environment.url("PUBLIC_URL", default: "http://127.0.0.1:8081")
        cookieSecure = try environment.bool("COOKIE_SECURE", default: true)
        passwordPepper = try environment.requiredSecret("PASSWORD_PEPPER")
        bcryptCost = try environment.int("BCRYPT_COST", default: 12, range: 10...16)
        instagram = InstagramOAuth.Configuration(
            appID: try environment.required("META_APP_ID"), appSecret: try environment.requiredSecret("META_APP_SECRET"),
            oauthURL: try environment.url("INSTAGRAM_OAUTH_URL", default: "https://www.instagram.com"),
            apiURL: try environment.url("INSTAGRAM_API_URL", default: "https://api.instagram.com"), graph: try GraphConfiguration(environment: environment))
        instagramAppSecret = environment.optional("INSTAGRAM_APP_SECRET").map(Secret.init)
        vault = try TokenVault(keyRing: try environment.requiredSecret("TOKEN_ENCRYPTION_KEYS"))
        analyticsURL = try environment.url("ANALYTICS_URL", default: "http://127.0.0.1:8084")
        dashboardDirectory = environment.optional("DASHBOARD_DIR")
        // Outside development: the dashboard, its session cookie and the analytics calls travel over HTTPS only.
        try common.requireHTTPSFront()
        try common.requireHTTPS(publicURL, variable: "PUBLIC_URL")
        try common.requireHTTPS(analyticsURL, variable: "ANALYTICS_URL")
        if !cookieSecure, !common.mode.isDevelopment {
            throw ConfigurationError.malformed("COOKIE_SECURE", "must be true unless FLOWTALK_ENV=development")
        }
        smtp = try SMTPConfiguration(environment: environment, mode: common.mode)
        if common.mode.isDevelopment {
            operatorName = try Self.policyText(environment, "OPERATOR_NAME") ?? operatorName
            privacyContact = try Self.policyText(environment, "PRIVACY_CONTACT") ?? privacyContact
        } else {
            guard let name = try Self.policyText(environment, "OPERATOR_NAME"), let contact = try Self.policyText(environment, "PRIVACY_CONTACT") else {
                throw ConfigurationError.malformed(
                    "OPERATOR_NAME", "OPERATOR_NAME and PRIVACY_CONTACT are required unless FLOWTALK_ENV=development (the privacy policy names them)")
            }
            (operatorName, privacyContact) = (name, contact)
        }
        let groq = try environment.url("GROQ_BASE_URL", default: "https://api.groq.com/openai/v1")
        aiProviderHost = URL(string: groq)?.host ?? groq
        self.groq = try GroqConfiguration.fromEnvironment(environment)
    }

    /// A short line of plain text for the policy page (nil when unset).
    static func policyText(_ environment: ConfigEnvironment, _ name: String) throws -> String? {
        guard let value = environment.optional(name)?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        guard value.count <= 200, !value.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) else {
            throw ConfigurationError.malformed(name, "one line of at most 200 characters")
        }
        return value
    }

    /// The facts the privacy policy page names.
    var policyFacts: PrivacyPolicy.Facts {
        PrivacyPolicy.Facts(
            operatorName: operatorName, contact: privacyContact, publicURL: publicURL, databaseHost: PrivacyPolicy.databaseHost(common.database),
            aiProvider: aiProviderHost, mailHost: PrivacyPolicy.displayHost(smtp.host, what: "a mail server"))
    }

    /// The secrets a Meta callback's `signed_request` may be signed with.
    var callbackSecrets: [Secret<String>] { [instagram.appSecret] + (instagramAppSecret.map { [$0] } ?? []) }

    /// The session cookie's name and Secure flag for this mode.
    var sessionCookies: SessionCookies { SessionCookies(mode: common.mode, secure: cookieSecure) }
}
