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
    /// `COOKIE_SECURE` (default true): `make run` turns it off for plain-http localhost.
    var cookieSecure: Bool
    /// `PASSWORD_PEPPER`: the server-side key of the password pre-hash (never stored in the database).
    var passwordPepper: Secret<String>
    /// `BCRYPT_COST` (default 12).
    var bcryptCost: Int
    /// `TRUSTED_PROXIES`: peer addresses whose `X-Forwarded-For` is believed.
    var trustedProxies: Set<String>
    /// `META_APP_ID`, `META_APP_SECRET`, `INSTAGRAM_OAUTH_URL`, `INSTAGRAM_API_URL`, `INSTAGRAM_GRAPH_URL`.
    var instagram: InstagramOAuth.Configuration
    /// `TOKEN_ENCRYPTION_KEYS`: seals the tokens of connected accounts.
    var vault: TokenVault
    /// `ANALYTICS_URL`: where the dashboard finds flowtalk-analytics (told to it by `GET /api/config`, allowed by its CSP).
    var analyticsURL = "http://127.0.0.1:8084"
    /// `DASHBOARD_DIR`: the dashboard's static files; unset, `Services/Dashboard` is looked for from the working directory
    /// and from the executable's.
    var dashboardDirectory: String? = nil
    /// `FLOWTALK_ENV`.
    var mode = DeploymentMode.production
    /// `SMTP_URL`, `SMTP_CA_FILE`, `MAIL_FROM`: outgoing mail (by default the sandbox's catcher, as in development).
    var smtp = try! SMTPConfiguration(
        url: SMTPConfiguration.developmentURL, from: try! MailAddress(parsing: SMTPConfiguration.developmentFrom), mode: .development)

    /// Every secret is given: there are no defaults to fall back on (tests pass FlowtalkTesting's TestSecrets).
    init(common: CommonConfiguration, publicURL: String = "http://127.0.0.1:8081", cookieSecure: Bool = true,
         passwordPepper: Secret<String>, bcryptCost: Int, trustedProxies: Set<String> = [],
         instagram: InstagramOAuth.Configuration, vault: TokenVault) {
        self.common = common
        self.publicURL = publicURL
        self.cookieSecure = cookieSecure
        self.passwordPepper = passwordPepper
        self.bcryptCost = bcryptCost
        self.trustedProxies = trustedProxies
        self.instagram = instagram
        self.vault = vault
    }

    init(environment: ConfigEnvironment) throws {
        common = try CommonConfiguration(environment: environment, defaultPort: 8081)
        publicURL = try environment.url("PUBLIC_URL", default: "http://127.0.0.1:8081")
        cookieSecure = try environment.bool("COOKIE_SECURE", default: true)
        passwordPepper = try environment.requiredSecret("PASSWORD_PEPPER")
        bcryptCost = try environment.int("BCRYPT_COST", default: 12, range: 10...16)
        trustedProxies = Set((environment.optional("TRUSTED_PROXIES") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        instagram = InstagramOAuth.Configuration(
            appID: try environment.required("META_APP_ID"), appSecret: try environment.requiredSecret("META_APP_SECRET"),
            oauthURL: try environment.url("INSTAGRAM_OAUTH_URL", default: "https://www.instagram.com"),
            apiURL: try environment.url("INSTAGRAM_API_URL", default: "https://api.instagram.com"), graph: try GraphConfiguration(environment: environment))
        vault = try TokenVault(keyRing: try environment.requiredSecret("TOKEN_ENCRYPTION_KEYS"))
        analyticsURL = try environment.url("ANALYTICS_URL", default: "http://127.0.0.1:8084")
        dashboardDirectory = environment.optional("DASHBOARD_DIR")
        mode = try environment.deploymentMode()
        smtp = try SMTPConfiguration(environment: environment, mode: mode)
    }
}
