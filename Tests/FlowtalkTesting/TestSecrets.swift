import FlowtalkCore
import InstagramGraph

/// The secrets and cheap settings tests run services with. Production configuration has no defaults for them: it reads
/// `PASSWORD_PEPPER`, `BCRYPT_COST` (10–16), `META_APP_SECRET` and `TOKEN_ENCRYPTION_KEYS` or refuses to start.
package enum TestSecrets {
    package static let passwordPepper = Secret("test-pepper")
    /// bcrypt's cheapest cost, so sign-ups in tests take milliseconds.
    package static let bcryptCost = 4
    /// What `signedRequest` signs Meta's callbacks with.
    package static let metaAppSecret = "test-app-secret"

    /// Instagram Login against `url` (nothing listens at the default: a test that needs Instagram passes the sandbox's).
    package static func instagram(url: String = "http://127.0.0.1:9") -> InstagramOAuth.Configuration {
        InstagramOAuth.Configuration(
            appID: "test-app", appSecret: Secret(metaAppSecret), oauthURL: url, apiURL: url, graph: GraphConfiguration(baseURL: url))
    }
}
