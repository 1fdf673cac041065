import FlowtalkCore
import FlowtalkHTTP
import Foundation

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

    init(common: CommonConfiguration, publicURL: String = "http://127.0.0.1:8081", cookieSecure: Bool = true,
         passwordPepper: Secret<String> = Secret("test-pepper"), bcryptCost: Int = 4, trustedProxies: Set<String> = []) {
        self.common = common
        self.publicURL = publicURL
        self.cookieSecure = cookieSecure
        self.passwordPepper = passwordPepper
        self.bcryptCost = bcryptCost
        self.trustedProxies = trustedProxies
    }

    init(environment: ConfigEnvironment) throws {
        common = try CommonConfiguration(environment: environment, defaultPort: 8081)
        publicURL = try environment.url("PUBLIC_URL", default: "http://127.0.0.1:8081")
        cookieSecure = try environment.bool("COOKIE_SECURE", default: true)
        passwordPepper = try environment.requiredSecret("PASSWORD_PEPPER")
        bcryptCost = try environment.int("BCRYPT_COST", default: 12, range: 10...16)
        trustedProxies = Set((environment.optional("TRUSTED_PROXIES") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
    }
}
