import FlowtalkCore
import FlowtalkHTTP
import FlowtalkTesting
import Testing

@testable import AnalyticsService
@testable import AuthService
@testable import DispatchService
@testable import IngestService

/// Outside `FLOWTALK_ENV=development` a service refuses to start on a configuration that would put a session, a
/// password or a webhook on plain HTTP; each refusal names the variable.
@Suite struct HTTPSConfigurationTests {
    static let authBase = [
        "DATABASE_URL": "postgres://u:pw@127.0.0.1:5432/db", "PASSWORD_PEPPER": "pepper", "META_APP_ID": "1", "META_APP_SECRET": "s",
        "TOKEN_ENCRYPTION_KEYS": TokenVault.testing().keyRing, "SMTP_URL": "smtps://mailer:secret@smtp.example.com", "MAIL_FROM": "no-reply@example.com",
        "OPERATOR_NAME": "Example Ltd", "PRIVACY_CONTACT": "privacy@example.com",
    ]
    static let production = authBase.merging([
        "PUBLIC_URL": "https://app.example.com", "ANALYTICS_URL": "https://stats.example.com", "TRUSTED_PROXIES": "10.0.0.0/8",
    ]) { $1 }

    func refusal(_ values: [String: String], _ build: (ConfigEnvironment) throws -> Void) -> String? {
        do {
            try build(ConfigEnvironment(values))
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func authRefusesPlainHTTPSettingsOutsideDevelopment() {
        let auth = { (environment: ConfigEnvironment) in _ = try AuthConfiguration(environment: environment) }
        #expect(refusal(Self.production, auth) == nil)
        let cases: [(String, [String: String])] = [
            ("PUBLIC_URL", ["PUBLIC_URL": "http://app.example.com"]),
            ("ANALYTICS_URL", ["ANALYTICS_URL": "http://stats.example.com"]),
            ("COOKIE_SECURE", ["COOKIE_SECURE": "false"]),
            ("TRUSTED_PROXIES", ["TRUSTED_PROXIES": ""]),
            ("TRUSTED_PROXIES", ["TRUSTED_PROXIES": "10.0.0.0/33"]),
            ("FLOWTALK_ENV", ["FLOWTALK_ENV": "staging"]),
        ]
        for (variable, change) in cases {
            let message = refusal(Self.production.merging(change) { $1 }, auth)
            #expect(message?.contains(variable) == true, "\(change): \(message ?? "accepted")")
            #expect(message?.contains("\n") == false)
        }
        // The defaults are plain-http localhost: production must name its https addresses.
        #expect(refusal(Self.authBase.merging(["TRUSTED_PROXIES": "10.0.0.1"]) { $1 }, auth)?.contains("PUBLIC_URL") == true)
        // Development accepts all of it, as `make run` sets it.
        let development = Self.authBase.merging(["FLOWTALK_ENV": "development", "PUBLIC_URL": "http://127.0.0.1:8081", "COOKIE_SECURE": "false"]) { $1 }
        #expect(refusal(development, auth) == nil)
    }

    @Test func analyticsAndIngestNeedAnHTTPSFrontAndDispatchDoesNot() {
        let analytics = { (environment: ConfigEnvironment) in _ = try AnalyticsConfiguration(environment: environment) }
        let ingest = { (environment: ConfigEnvironment) in _ = try IngestConfiguration(environment: environment) }
        let dispatch = { (environment: ConfigEnvironment) in _ = try DispatchConfiguration(environment: environment) }
        let base = Self.production.merging(["META_VERIFY_TOKEN": "v"]) { $1 }
        #expect(refusal(base, analytics) == nil)
        #expect(refusal(base, ingest) == nil)
        #expect(refusal(base.merging(["PUBLIC_URL": "http://app.example.com"]) { $1 }, analytics)?.contains("PUBLIC_URL") == true)
        #expect(refusal(base.merging(["TRUSTED_PROXIES": ""]) { $1 }, analytics)?.contains("TRUSTED_PROXIES") == true)
        #expect(refusal(base.merging(["TRUSTED_PROXIES": ""]) { $1 }, ingest)?.contains("TRUSTED_PROXIES") == true)
        // Dispatch serves only health and metrics, to the internal network.
        #expect(refusal(base.merging(["TRUSTED_PROXIES": ""]) { $1 }, dispatch) == nil)
    }

    @Test func tlsFilesAreBothOrNeitherAndMustBeReadable() async throws {
        let both = refusal(["TLS_CERT_FILE": "/nonexistent/cert.pem"]) { _ = try HTTPServerSettings(environment: $0) }
        #expect(both?.contains("TLS_KEY_FILE") == true)
        let unreadable = refusal(["TLS_CERT_FILE": "/nonexistent/cert.pem", "TLS_KEY_FILE": "/nonexistent/key.pem"]) {
            _ = try HTTPServerSettings(environment: $0)
        }
        #expect(unreadable?.contains("TLS_CERT_FILE") == true)
        let pair = try await SelfSignedCertificate.make()
        defer { pair.remove() }
        let wrongKey = refusal(["TLS_CERT_FILE": pair.certificate, "TLS_KEY_FILE": pair.certificate]) { _ = try HTTPServerSettings(environment: $0) }
        #expect(wrongKey?.contains("TLS_KEY_FILE") == true)
        #expect(refusal(["TLS_CERT_FILE": pair.certificate, "TLS_KEY_FILE": pair.key]) { _ = try HTTPServerSettings(environment: $0) } == nil)
        // With direct TLS no proxy is needed.
        let direct = Self.production.merging(["TRUSTED_PROXIES": "", "TLS_CERT_FILE": pair.certificate, "TLS_KEY_FILE": pair.key]) { $1 }
        #expect(refusal(direct) { _ = try AuthConfiguration(environment: $0) } == nil)
    }

    @Test func theIdleTimeoutCanBeRaisedAboveALoadBalancers() throws {
        #expect(try HTTPServerSettings(environment: ConfigEnvironment([:])).idleTimeout == .seconds(30))
        #expect(try HTTPServerSettings(environment: ConfigEnvironment(["HTTP_IDLE_TIMEOUT_SECONDS": "75"])).idleTimeout == .seconds(75))
        #expect(refusal(["HTTP_IDLE_TIMEOUT_SECONDS": "0"]) { _ = try HTTPServerSettings(environment: $0) }?.contains("HTTP_IDLE_TIMEOUT_SECONDS") == true)
    }
}
