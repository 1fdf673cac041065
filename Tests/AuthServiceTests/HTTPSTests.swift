import FlowtalkCore
import FlowtalkHTTP
import FlowtalkTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import AuthService

extension HTTPField.Name {
    static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!
    static let hsts = HTTPField.Name("Strict-Transport-Security")!
}

/// auth outside development: HTTPS only, through a trusted proxy (127.0.0.0/8 here, where the test client connects from)
/// or not at all; HSTS on HTTPS answers only; the `__Host-` session cookie.
@Suite struct HTTPSTests {
    static let publicURL = "https://app.example.com"

    func withProductionAuth(
        proxies: String, _ body: @Sendable @escaping (any TestClientProtocol) async throws -> Void
    ) async throws {
        try await TestDatabase.withFresh { database in
            let common = CommonConfiguration(
                database: database.configuration, port: 0, mode: .production, trustedProxies: try TrustedProxies(parsing: proxies))
            let configuration = AuthConfiguration(
                common: common, publicURL: Self.publicURL, passwordPepper: TestSecrets.passwordPepper, bcryptCost: TestSecrets.bcryptCost,
                instagram: TestSecrets.instagram(), vault: TokenVault.testing().vault)
            try await buildApplication(configuration: configuration, logger: .quiet("auth")).test(.live) { client in
                try await waitUntilReady(client)
                try await body(client)
            }
        }
    }

    @Test func plainHTTPThroughTheProxyIsRedirectedOrRefused() async throws {
        try await withProductionAuth(proxies: "127.0.0.0/8") { client in
            for proto: String? in ["http", nil] {
                var headers: HTTPFields = [:]
                if let proto { headers[.forwardedProto] = proto }
                let get = try await client.execute(uri: "/api/auth/me?tab=1", method: .get, headers: headers)
                #expect(get.status == .permanentRedirect)
                // To the configured origin (PUBLIC_URL), never to the Host the request named (localhost:port here).
                #expect(get.headers[.location] == "https://app.example.com/api/auth/me?tab=1")
                #expect(get.headers[.hsts] == nil)
                headers[.origin] = Self.publicURL
                headers[.contentType] = "application/json"
                let post = try await client.execute(
                    uri: "/api/auth/login", method: .post, headers: headers, body: ByteBuffer(string: #"{"email":"a@example.com","password":"x"}"#))
                #expect(post.status == .forbidden)
                #expect(errorCode(post) == "https_required")
                #expect(post.headers[.hsts] == nil)
            }
            // Probes on the internal network keep their answers.
            let health = try await client.execute(uri: "/healthz", method: .get, headers: [.forwardedProto: "http"])
            #expect(health.status == .ok)
            #expect(health.headers[.hsts] == nil)
        }
    }

    @Test func httpsThroughTheProxyGetsHSTSAndTheHostPrefixedCookie() async throws {
        try await withProductionAuth(proxies: "10.0.0.0/8, 127.0.0.0/8") { client in
            let headers: HTTPFields = [.forwardedProto: "https", .origin: Self.publicURL, .contentType: "application/json"]
            let credentials = #"{"email":"host@example.com","password":"correct horse battery"}"#
            let signup = try await client.execute(uri: "/api/auth/signup", method: .post, headers: headers, body: ByteBuffer(string: credentials))
            #expect(signup.status == .created)
            #expect(signup.headers[.hsts]?.hasPrefix("max-age=31536000") == true)
            let login = try await client.execute(uri: "/api/auth/login", method: .post, headers: headers, body: ByteBuffer(string: credentials))
            #expect(login.status == .ok)
            let setCookie = try #require(login.headers[values: .setCookie].first)
            #expect(setCookie.hasPrefix("__Host-ft_session="))
            for attribute in ["Secure", "Path=/", "HttpOnly"] { #expect(setCookie.contains(attribute), "\(attribute) in \(setCookie)") }
            #expect(!setCookie.contains("Domain"))
            let token = String(setCookie.dropFirst("__Host-ft_session=".count).prefix { $0 != ";" })
            let me = try await client.execute(uri: "/api/auth/me", method: .get, headers: [.forwardedProto: "https", .cookie: "__Host-ft_session=\(token)"])
            #expect(me.status == .ok)
            // The unprefixed name (which a sibling subdomain or plain-http page could set) is not the session cookie here.
            let plainName = try await client.execute(uri: "/api/auth/me", method: .get, headers: [.forwardedProto: "https", .cookie: "ft_session=\(token)"])
            #expect(plainName.status == .unauthorized)
        }
    }

    @Test func aPeerThatIsNoProxyCannotClaimHTTPS() async throws {
        try await withProductionAuth(proxies: "10.0.0.0/8") { client in
            // 127.0.0.1 is not a proxy here: its X-Forwarded-Proto is its own word, and a GET is not redirected either.
            let spoofed = try await client.execute(uri: "/api/auth/me", method: .get, headers: [.forwardedProto: "https"])
            #expect(spoofed.status == .forbidden)
            #expect(errorCode(spoofed) == "https_required")
            #expect(spoofed.headers[.hsts] == nil)
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .ok)
        }
    }

    @Test func developmentServesPlainHTTPWithoutHSTS() async throws {
        try await withAuth { client, _ in
            let me = try await client.execute(uri: "/api/auth/me", method: .get, headers: [.forwardedProto: "http"])
            #expect(me.status == .unauthorized)
            #expect(me.headers[.hsts] == nil)
        }
    }
}
