import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import FlowtalkTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InMemoryLogging
import Logging
import Mail
import NIOCore
import PostgresNIO
import Testing

@testable import AuthService

let origin = "http://127.0.0.1:8081"

extension HTTPField.Name {
    static let origin = HTTPField.Name("Origin")!
    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!
    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!
}

/// A browser on the dashboard: same origin, JSON, and the session cookie once it has one.
final class Browser: @unchecked Sendable {
    let client: any TestClientProtocol
    var cookie: String?

    init(_ client: any TestClientProtocol) { self.client = client }

    @discardableResult
    func send(_ method: HTTPRequest.Method, _ uri: String, _ json: String? = nil, headers extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers: HTTPFields = [.origin: origin, .contentType: "application/json"]
        if let cookie { headers[.cookie] = "ft_session=\(cookie)" }
        for field in extra { headers[field.name] = field.value }
        let response = try await client.execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
        if let setCookie = response.headers[values: .setCookie].first(where: { $0.hasPrefix("ft_session=") }) {
            let value = String(setCookie.dropFirst("ft_session=".count).prefix { $0 != ";" })
            cookie = value.isEmpty ? nil : value
        }
        return response
    }

    func signUpAndIn(_ email: String, _ password: String = "correct horse battery") async throws {
        let signup = try await send(.post, "/api/auth/signup", #"{"email":"\#(email)","password":"\#(password)"}"#)
        #expect(signup.status == .created)
        let login = try await send(.post, "/api/auth/login", #"{"email":"\#(email)","password":"\#(password)"}"#)
        #expect(login.status == .ok)
    }
}

/// `trustedProxies` with `.live` (a real socket from 127.0.0.1) lets a test speak as many clients through X-Forwarded-For.
func withAuth(
    logger: Logger = .quiet("auth"), cookieSecure: Bool = true, dashboardDirectory: String? = nil, trustedProxies: Set<String> = [],
    framework: TestingSetup = .router, signInBaseDelaySeconds: Int = 1, configure: @Sendable (inout AuthConfiguration) -> Void = { _ in },
    _ body: @Sendable @escaping (any TestClientProtocol, TestDatabase) async throws -> Void
) async throws {
    try await TestDatabase.withFresh { database in
        var common = CommonConfiguration(database: database.configuration, port: 0)
        common.trustedProxies = try TrustedProxies(parsing: trustedProxies.sorted().joined(separator: ","))
        var configuration = AuthConfiguration(
            common: common, cookieSecure: cookieSecure, passwordPepper: TestSecrets.passwordPepper, bcryptCost: TestSecrets.bcryptCost,
            instagram: TestSecrets.instagram(), vault: authTestVault)
        configuration.dashboardDirectory = dashboardDirectory
        configuration.signInBaseDelaySeconds = signInBaseDelaySeconds
        // Mail goes to a port where nothing listens: auth's worker keeps retrying it, so each mail stays in the queue for
        // the test to read (Mailbox); a catcher on the development default would take it.
        configuration.smtp = try SMTPConfiguration(
            url: "smtp://127.0.0.1:\(try FreePorts.next())?tls=none", from: try MailAddress(parsing: "Flowtalk <flowtalk@localhost>"), mode: .development)
        configure(&configuration)
        try await buildApplication(configuration: configuration, logger: logger).test(framework) { client in
            try await waitUntilReady(client)
            try await body(client, database)
        }
    }
}

struct ErrorBody: Decodable {
    struct Inner: Decodable {
        let code: String
        let message: String
    }
    let error: Inner
}

func errorCode(_ response: TestResponse) -> String? {
    (try? JSONDecoder().decode(ErrorBody.self, from: Data(response.body.readableBytesView)))?.error.code
}

@Suite struct AccountTests {
    @Test func signUpSignInMeAndSignOut() async throws {
        try await withAuth { client, _ in
            let browser = Browser(client)
            try await browser.signUpAndIn("Ana@Example.com ")
            let me = try await browser.send(.get, "/api/auth/me")
            #expect(me.status == .ok)
            #expect(try decodeJSON(MeBody.self, from: me.body).account.email == "ana@example.com")
            #expect(!String(buffer: me.body).contains("password"))
            let cookie = try #require(browser.cookie)
            #expect(try await browser.send(.post, "/api/auth/logout", "{}").status == .noContent)
            // The session is gone on the server: replaying the old cookie is refused.
            browser.cookie = cookie
            #expect(try await browser.send(.get, "/api/auth/me").status == .unauthorized)
        }
    }

    @Test func theCookieIsHttpOnlySecureLaxAndRootScoped() async throws {
        try await withAuth { client, _ in
            let browser = Browser(client)
            _ = try await browser.send(.post, "/api/auth/signup", #"{"email":"c@example.com","password":"correct horse battery"}"#)
            let login = try await browser.send(.post, "/api/auth/login", #"{"email":"c@example.com","password":"correct horse battery"}"#)
            let header = try #require(login.headers[values: .setCookie].first { $0.hasPrefix("ft_session=") })
            for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] { #expect(header.contains(attribute), "\(attribute) in \(header)") }
            #expect(!header.contains("Domain"))
            let token = try #require(browser.cookie)
            #expect(token.count >= 43)  // 256 bits, base64url
        }
        try await withAuth(cookieSecure: false) { client, _ in
            let browser = Browser(client)
            _ = try await browser.send(.post, "/api/auth/signup", #"{"email":"d@example.com","password":"correct horse battery"}"#)
            let login = try await browser.send(.post, "/api/auth/login", #"{"email":"d@example.com","password":"correct horse battery"}"#)
            #expect(login.headers[values: .setCookie].first.map { !$0.contains("Secure") } == true)
        }
    }

    @Test func signInRotatesTheSession() async throws {
        try await withAuth { client, _ in
            let browser = Browser(client)
            try await browser.signUpAndIn("rot@example.com")
            let before = try #require(browser.cookie)
            _ = try await browser.send(.post, "/api/auth/login", #"{"email":"rot@example.com","password":"correct horse battery"}"#)
            let after = try #require(browser.cookie)
            #expect(before != after)
            browser.cookie = before
            #expect(try await browser.send(.get, "/api/auth/me").status == .unauthorized)
        }
    }

    @Test func unknownEmailAndWrongPasswordLookTheSame() async throws {
        try await withAuth { client, _ in
            let browser = Browser(client)
            try await browser.signUpAndIn("known@example.com")
            let wrong = try await browser.send(.post, "/api/auth/login", #"{"email":"known@example.com","password":"not the password"}"#)
            let unknown = try await browser.send(.post, "/api/auth/login", #"{"email":"nobody@example.com","password":"not the password"}"#)
            #expect(wrong.status == .unauthorized && unknown.status == .unauthorized)
            #expect(String(buffer: wrong.body) == String(buffer: unknown.body))
            // Signing up an address that exists answers exactly like a new one.
            let existing = try await browser.send(.post, "/api/auth/signup", #"{"email":"known@example.com","password":"another long password"}"#)
            let fresh = try await browser.send(.post, "/api/auth/signup", #"{"email":"new@example.com","password":"another long password"}"#)
            #expect(existing.status == fresh.status)
            #expect(String(buffer: existing.body) == String(buffer: fresh.body))
            // …and did not change the existing account's password.
            #expect(try await browser.send(.post, "/api/auth/login", #"{"email":"known@example.com","password":"another long password"}"#).status == .unauthorized)
        }
    }

    @Test func passwordPolicy() async throws {
        try await withAuth { client, _ in
            let browser = Browser(client)
            // Issue 12: the list had 40 entries; "manchester", "Password2024!" and "monkey123456" were accepted.
            for (password, code) in [("short", "password_too_short"), ("qwertyuiop", "password_too_common"), (String(repeating: "x", count: 1025), "password_too_long"),
                                     ("has\\u0000nul-inside", "invalid_text")] {
                let response = try await browser.send(.post, "/api/auth/signup", #"{"email":"p@example.com","password":"\#(password)"}"#)
                #expect(response.status == .badRequest, "\(code)")
                #expect(errorCode(response) == code)
            }
            // The dashboard's meter reads the same list the server refuses from.
            let list = try await browser.send(.get, "/api/password-list")
            let words = String(buffer: list.body).split(separator: "\n")
            #expect(list.status == .ok && words.count >= 10_000 && words.contains("manchester"))
            let bad = try await browser.send(.post, "/api/auth/signup", #"{"email":"not-an-email","password":"correct horse battery"}"#)
            #expect(errorCode(bad) == "invalid_email")
            // 73 bytes: bcrypt alone would ignore the last one.
            let long = String(repeating: "a", count: 72)
            try await browser.signUpAndIn("long@example.com", long + "X")
            #expect(try await browser.send(.post, "/api/auth/login", #"{"email":"long@example.com","password":"\#(long)Y"}"#).status == .unauthorized)
            // Issue 12: the list had 40 entries; "manchester", "Password2024!" and "monkey123456" were accepted.
            for password in ["manchester", "Password2024!", "monkey123456", "zzzzzzzzzzzz", "TERMINATOR", "!!Dragon2000"] {
                let change = try await browser.send(.post, "/api/auth/password", #"{"current_password":"\#(long)X","new_password":"\#(password)"}"#)
                #expect(change.status == .badRequest && errorCode(change) == "password_too_common", "\(password)")
            }
        }
    }

    @Test func sessionsEndAfterThirtyIdleMinutesOrTwelveHours() async throws {
        try await withAuth { client, database in
            let browser = Browser(client)
            try await browser.signUpAndIn("idle@example.com")
            #expect(try await browser.send(.get, "/api/auth/me").status == .ok)
            try await database.withClient(logger: .quiet("db")) { db in
                try await db.query("UPDATE sessions SET last_seen_at = now() - interval '29 minutes'")
            }
            #expect(try await browser.send(.get, "/api/auth/me").status == .ok)  // and the request refreshed it:
            let refreshed = try await database.withClient(logger: .quiet("db")) { db in
                var fresh = 0
                for try await n in try await db.query("SELECT count(*)::int FROM sessions WHERE last_seen_at > now() - interval '1 minute'").decode(Int.self) {
                    fresh = n
                }
                return fresh
            }
            #expect(refreshed == 1)
            try await database.withClient(logger: .quiet("db")) { db in
                try await db.query("UPDATE sessions SET last_seen_at = now() - interval '31 minutes'")
            }
            #expect(try await browser.send(.get, "/api/auth/me").status == .unauthorized)

            try await browser.signUpAndIn("idle@example.com")
            try await database.withClient(logger: .quiet("db")) { db in
                try await db.query("UPDATE sessions SET expires_at = now() - interval '1 second'")
            }
            #expect(try await browser.send(.get, "/api/auth/me").status == .unauthorized)
            // A tampered or made-up cookie is refused too.
            browser.cookie = String(repeating: "A", count: 43)
            #expect(try await browser.send(.get, "/api/auth/me").status == .unauthorized)
        }
    }

    @Test func changingThePasswordEndsOtherSessions() async throws {
        try await withAuth { client, _ in
            let phone = Browser(client)
            let laptop = Browser(client)
            try await phone.signUpAndIn("two@example.com")
            _ = try await laptop.send(.post, "/api/auth/login", #"{"email":"two@example.com","password":"correct horse battery"}"#)
            let before = try #require(laptop.cookie)
            let change = try await laptop.send(.post, "/api/auth/password", #"{"current_password":"correct horse battery","new_password":"a brand new passphrase"}"#)
            #expect(change.status == .noContent)
            #expect(try await laptop.send(.get, "/api/auth/me").status == .ok)
            #expect(try await phone.send(.get, "/api/auth/me").status == .unauthorized)
            // The browser that changed it was given a new session id; its old one (perhaps the stolen one) is dead too.
            #expect(laptop.cookie != nil && laptop.cookie != before)
            let stolen = Browser(client)
            stolen.cookie = before
            #expect(try await stolen.send(.get, "/api/auth/me").status == .unauthorized)
        }
    }
}

@Suite struct SecurityHeaderTests {
    /// One table: the same protective headers on a 200, 201, 204, 400, 401, 403, 404, 405-ish and 429 alike.
    @Test func everyResponseCarriesTheSecurityHeaders() async throws {
        try await withAuth { client, _ in
            let browser = Browser(client)
            var responses: [(String, TestResponse)] = []
            responses.append(("201", try await browser.send(.post, "/api/auth/signup", #"{"email":"h@example.com","password":"correct horse battery"}"#)))
            responses.append(("200", try await browser.send(.post, "/api/auth/login", #"{"email":"h@example.com","password":"correct horse battery"}"#)))
            responses.append(("400", try await browser.send(.post, "/api/rules", "{")))
            responses.append(("404", try await browser.send(.get, "/api/rules/\(UUID())")))
            responses.append(("204", try await browser.send(.post, "/api/auth/logout", "{}")))
            responses.append(("401", try await browser.send(.get, "/api/auth/me")))
            responses.append(("403", try await client.execute(uri: "/api/rules", method: .post, headers: [.origin: "https://evil.example"])))
            responses.append(("healthz", try await client.execute(uri: "/healthz", method: .get)))
            responses.append(("unknown route", try await client.execute(uri: "/nope", method: .get)))
            for (name, response) in responses {
                let headers = response.headers
                #expect(headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff", "\(name)")
                #expect(headers[HTTPField.Name("X-Frame-Options")!] == "DENY", "\(name)")
                #expect(headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer", "\(name)")
                // Plain HTTP (development): HSTS is for HTTPS answers only (HTTPSTests).
                #expect(headers[HTTPField.Name("Strict-Transport-Security")!] == nil, "\(name)")
                #expect(headers[HTTPField.Name("Content-Security-Policy")!]?.contains("frame-ancestors 'none'") == true, "\(name)")
                #expect(headers[.cacheControl] == "no-store", "\(name)")
                #expect(headers[HTTPField.Name("Server")!] == nil, "\(name)")
            }
        }
    }
}

@Suite struct CSRFTests {
    @Test func stateChangesFromElsewhereAreRefused() async throws {
        try await withAuth { client, _ in
            let browser = Browser(client)
            try await browser.signUpAndIn("csrf@example.com")
            let rule = #"{"keywords":["price"],"reply":"10 EUR"}"#
            let cases: [(String, HTTPFields)] = [
                ("foreign origin", [.origin: "https://evil.example"]),
                ("cross-site fetch", [.secFetchSite: "cross-site", .origin: origin]),
                ("no origin at all", [.origin: ""]),
                ("form post", [.contentType: "application/x-www-form-urlencoded"]),
                ("text/plain", [.contentType: "text/plain"]),
            ]
            let cookie = try #require(browser.cookie)
            for (name, headers) in cases {
                var fields = headers
                if fields[.origin] == "" { fields[.origin] = nil }
                let response = try await browser.client.execute(
                    uri: "/api/rules", method: .post,
                    headers: [.cookie: "ft_session=\(cookie)", .origin: fields[.origin] ?? "", .contentType: fields[.contentType] ?? "application/json"]
                        + (fields[.secFetchSite].map { [.secFetchSite: $0] } ?? [:]) as HTTPFields,
                    body: ByteBuffer(string: rule))
                #expect(response.status == .forbidden, "\(name)")
            }
            #expect(try await browser.send(.get, "/api/rules").status == .ok)
            let list = try await browser.send(.get, "/api/rules")
            #expect(String(buffer: list.body) == #"{"rules":[]}"#)
            #expect(try await browser.send(.post, "/api/rules", rule, headers: [.secFetchSite: "same-origin"]).status == .created)
        }
    }
}

extension HTTPFields {
    static func + (lhs: HTTPFields, rhs: HTTPFields) -> HTTPFields {
        var result = lhs
        for field in rhs { result[field.name] = field.value }
        return result
    }
}
