import Crypto
import FlowtalkCore
import FlowtalkStore
import FlowtalkTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Testing

@testable import AuthService

/// Issue 13, item 1: the policy is a page with this deployment's facts, sign-up records the version accepted, and a newer
/// version shows a notice until it is read.
@Suite struct PrivacyPolicyTests {
    struct Me: Decodable {
        struct Account: Decodable {
            struct Policy: Decodable {
                let current_version: String
                let accepted_version: String?
                let accepted_at: String?
            }
            let privacy_policy: Policy
        }
        let account: Account
    }

    func policy(_ browser: Browser) async throws -> Me.Account.Policy {
        try decodeJSON(Me.self, from: try await browser.send(.get, "/api/auth/me").body).account.privacy_policy
    }

    @Test func thePageNamesThisDeploymentsOperatorContactDateAndVersion() async throws {
        try await withAuth(configure: {
            $0.operatorName = "Acme <Shops> Ltd"
            $0.privacyContact = "privacy@acme.example"
        }) { client, _ in
            let page = try await client.execute(uri: "/privacy", method: .get)
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("default-src 'none'") == true)
            let html = String(buffer: page.body)
            #expect(html.contains("Acme &lt;Shops&gt; Ltd") && !html.contains("Acme <Shops>"))
            #expect(html.contains("privacy@acme.example"))
            #expect(html.contains("Last updated \(PrivacyPolicy.lastUpdated)") && html.contains("version \(PrivacyPolicy.version)"))
            #expect(html.contains("api.groq.com") && html.contains("PostgreSQL"))
            #expect(!html.contains("{{") && !html.contains("MongoDB"))
        }
    }

    /// Editing the policy's text without a new version and date would change what accounts accepted behind their backs.
    @Test func theTextIsTheOneItsVersionNames() throws {
        let digest = SHA256.hash(data: Data(try PrivacyPolicy.template().utf8)).map { String(format: "%02x", $0) }.joined()
        #expect(
            digest == PrivacyPolicyTests.versionDigest,
            "privacy.html changed: give PrivacyPolicy a new version and date (accounts will be asked to read it), then set versionDigest to \(digest)")
    }
    static let versionDigest = "74ddca0b8f3024d107ee5ac2f288fe4c9e5f156510e26462150a071e52df691a"

    @Test func signUpRecordsTheVersionAndAStaleFormIsRefused() async throws {
        try await withAuth { client, _ in
            let stale = try await Browser(client).send(
                .post, "/api/auth/signup", #"{"email":"stale@example.com","password":"correct horse battery","privacy_policy_version":"0"}"#)
            #expect(stale.status == .conflict && errorCode(stale) == "privacy_policy_changed")
            let ana = Browser(client)
            let signup = try await ana.send(
                .post, "/api/auth/signup",
                #"{"email":"consent@example.com","password":"correct horse battery","privacy_policy_version":"\#(PrivacyPolicy.version)"}"#)
            #expect(signup.status == .created)
            #expect(try await ana.send(.post, "/api/auth/login", #"{"email":"consent@example.com","password":"correct horse battery"}"#).status == .ok)
            let policy = try await policy(ana)
            #expect(policy.current_version == PrivacyPolicy.version && policy.accepted_version == PrivacyPolicy.version && policy.accepted_at != nil)
        }
    }

    @Test func aNewerVersionShowsTheNoticeUntilItIsRead() async throws {
        try await withAuth { client, database in
            let ana = Browser(client)
            try await ana.signUpAndIn("notice@example.com")
            try await database.withClient(logger: .quiet("seed")) { db in
                try await db.query("UPDATE policy_acceptances SET version = '1' WHERE account_id = (SELECT id FROM accounts WHERE email = 'notice@example.com')")
            }
            #expect(try await policy(ana).accepted_version == "1")
            let old = try await ana.send(.post, "/api/account/privacy-policy", #"{"version":"1"}"#)
            #expect(old.status == .conflict && errorCode(old) == "privacy_policy_changed")
            #expect(try await ana.send(.post, "/api/account/privacy-policy", #"{"version":"\#(PrivacyPolicy.version)"}"#).status == .noContent)
            #expect(try await policy(ana).accepted_version == PrivacyPolicy.version)
            // Both acceptances are in the export, with the sessions (times and browser, never a token).
            let export = String(buffer: try await ana.send(.get, "/api/account/export", headers: [.userAgent: "PolicyTest/1.0"]).body)
            let document = try #require(try JSONSerialization.jsonObject(with: Data(export.utf8)) as? [String: Any])
            #expect(document["format"] as? String == "flowtalk-export/1")
            let versions = (document["privacy_policy_versions"] as? [[String: Any]])?.compactMap { $0["version"] as? String }
            #expect(versions == ["1", PrivacyPolicy.version])
            let sessions = try #require(document["sessions"] as? [[String: Any]])
            #expect(sessions.count == 1 && sessions[0]["started_at"] != nil && sessions[0].keys.allSatisfy { !$0.contains("token") })
            #expect(!export.contains("token_hash"))
        }
    }

    @Test func internalHostsAreNotShownOnThePublicPage() {
        for host in ["10.0.3.7", "192.168.1.20", "172.20.0.5", "127.0.0.1", "::1", "fd12::5", "postgres", "localhost"] {
            #expect(PrivacyPolicy.displayHost(host, what: "a PostgreSQL server") == "a PostgreSQL server in this deployment's own network", "\(host)")
        }
        for host in ["db.example.com", "mail.shop.eu", "8.8.8.8"] { #expect(PrivacyPolicy.displayHost(host, what: "x") == host) }
    }

    @Test func outsideDevelopmentTheOperatorMustBeNamed() throws {
        var environment = [
            "FLOWTALK_ENV": "production", "DATABASE_URL": "postgres://u:p@db.internal:5432/flowtalk?sslmode=verify-full",
            "PUBLIC_URL": "https://flowtalk.example", "ANALYTICS_URL": "https://stats.flowtalk.example", "PASSWORD_PEPPER": "pepper",
            "META_APP_ID": "1", "META_APP_SECRET": "s", "TOKEN_ENCRYPTION_KEYS": TokenVault.testing().keyRing,
            "SMTP_URL": "smtps://mail.example:465", "MAIL_FROM": "Flowtalk <no-reply@flowtalk.example>", "TRUSTED_PROXIES": "10.0.0.0/8",
        ]
        #expect(throws: ConfigurationError.self) { try AuthConfiguration(environment: ConfigEnvironment(environment)) }
        environment["OPERATOR_NAME"] = "Acme Ltd"
        environment["PRIVACY_CONTACT"] = "privacy@acme.example"
        let configuration = try AuthConfiguration(environment: ConfigEnvironment(environment))
        #expect(configuration.policyFacts.operatorName == "Acme Ltd" && configuration.policyFacts.databaseHost == "db.internal")
    }
}
