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
import NIOCore
import PostgresNIO
import Testing

@testable import AuthService

struct RuleBody: Decodable {
    struct Rule: Decodable {
        let id: UUID
        let keywords: [String]
        let match_type: String
        let reply: String
        let priority: Int
    }
    let rule: Rule
}

@Suite struct AutomationTests {
    @Test func rulesCRUDAndTheTester() async throws {
        try await withAuth { client, _ in
            let ana = Browser(client)
            try await ana.signUpAndIn("ana@example.com")
            let created = try await ana.send(.post, "/api/rules", #"{"keywords":["price","how much"],"reply":"From 10 EUR.","priority":1}"#)
            #expect(created.status == .created)
            let rule = try JSONDecoder().decode(RuleBody.self, from: Data(created.body.readableBytesView)).rule
            #expect(rule.match_type == "contains" && rule.keywords == ["price", "how much"])

            let tested = try await ana.send(.post, "/api/rules/test", #"{"text":"How much is the blue one?"}"#)
            struct Tested: Decodable {
                struct Match: Decodable { let rule_id: String }
                let match: Match?
            }
            #expect(try decodeJSON(Tested.self, from: tested.body).match?.rule_id == rule.id.uuidString.lowercased())
            #expect(String(buffer: tested.body).contains("the message contains “how much”"))
            #expect(String(buffer: try await ana.send(.post, "/api/rules/test", #"{"text":"hello"}"#).body) == #"{"match":null}"#)

            let updated = try await ana.send(.put, "/api/rules/\(rule.id)", #"{"keywords":["cost"],"match_type":"any_word","reply":"Cheap."}"#)
            #expect(updated.status == .ok)
            #expect(String(buffer: try await ana.send(.post, "/api/rules/test", #"{"text":"what does it cost"}"#).body).contains("Cheap."))

            for (body, why) in [
                (#"{"keywords":[],"reply":"x"}"#, "no keyword"), (#"{"keywords":["a"],"reply":""}"#, "no reply"),
                (#"{"keywords":["(a)\\1"],"match_type":"regex","reply":"x"}"#, "backreference"), (#"{"keywords":["a"],"match_type":"fuzzy","reply":"x"}"#, "type"),
                (#"{"keywords":"price","reply":"x"}"#, "wrong type"), ("not json", "not JSON"),
            ] {
                let response = try await ana.send(.post, "/api/rules", body)
                #expect(response.status == .badRequest, "\(why)")
            }
            #expect(try await ana.send(.delete, "/api/rules/\(rule.id)").status == .noContent)
            #expect(try await ana.send(.get, "/api/rules/\(rule.id)").status == .notFound)
            #expect(try await ana.send(.get, "/api/rules/not-a-uuid").status == .notFound)
        }
    }

    /// For every account route, a second account gets 404 (or sees nothing) on the first one's objects, and nothing changes.
    @Test func anotherAccountNeverSeesOrChangesYourData() async throws {
        try await withAuth { client, database in
            let ana = Browser(client)
            let bob = Browser(client)
            try await ana.signUpAndIn("ana@example.com")
            try await bob.signUpAndIn("bob@example.com")
            let created = try await ana.send(.post, "/api/rules", #"{"keywords":["secret"],"reply":"Ana's answer"}"#)
            let id = try JSONDecoder().decode(RuleBody.self, from: Data(created.body.readableBytesView)).rule.id
            _ = try await ana.send(.put, "/api/settings", #"{"cooldown_seconds":42,"human_pause_minutes":5,"ai_enabled":true,"business_description":"Ana's shop","fallback_text":"Ana"}"#)
            _ = try await ana.send(.put, "/api/ice-breakers", #"{"items":[{"question":"Ana's question?","answer":"Ana's answer"}]}"#)

            #expect(try await bob.send(.get, "/api/rules/\(id)").status == .notFound)
            #expect(try await bob.send(.put, "/api/rules/\(id)", #"{"keywords":["x"],"reply":"hijacked"}"#).status == .notFound)
            #expect(try await bob.send(.delete, "/api/rules/\(id)").status == .notFound)
            // Bob's own reads succeed (a 500 would show nothing of Ana's and must not pass) and show nothing of Ana's.
            for uri in ["/api/rules", "/api/settings", "/api/ice-breakers", "/api/auth/me", "/api/account/export"] {
                let response = try await bob.send(.get, uri)
                #expect(response.status == .ok, "\(uri): \(response.status)")
                let body = String(buffer: response.body)
                #expect(body.contains("bob@") || uri != "/api/auth/me", "\(uri) is not Bob's: \(body)")
                #expect(!body.contains("Ana") && !body.contains("secret") && !body.contains("ana@"), "\(uri): \(body)")
            }
            let tested = try await bob.send(.post, "/api/rules/test", #"{"text":"secret"}"#)
            #expect(tested.status == .ok)
            #expect(try JSONSerialization.jsonObject(with: Data(tested.body.readableBytesView)) as? [String: NSNull] == ["match": NSNull()])
            // Ana's data is unchanged.
            #expect(String(buffer: try await ana.send(.get, "/api/rules/\(id)").body).contains("Ana's answer"))
            #expect(try decodeJSON(SettingsBody.self, from: try await ana.send(.get, "/api/settings").body).settings.cooldown_seconds == 42)
            #expect(String(buffer: try await ana.send(.get, "/api/ice-breakers").body).contains("Ana's question?"))
            // Signed out, every account route is 401.
            let stranger = Browser(client)
            for (method, uri) in [(HTTPRequest.Method.get, "/api/rules"), (.get, "/api/rules/\(id)"), (.get, "/api/settings"), (.get, "/api/ice-breakers"),
                                  (.get, "/api/auth/me"), (.delete, "/api/rules/\(id)"), (.get, "/api/account/export"), (.post, "/api/instagram/connect"),
                                  (.post, "/api/instagram/disconnect"), (.delete, "/api/account")] {
                #expect(try await stranger.send(method, uri).status == .unauthorized, "\(uri)")
            }
            _ = database
        }
    }

    @Test func settingsAreValidated() async throws {
        try await withAuth { client, _ in
            let ana = Browser(client)
            try await ana.signUpAndIn("s@example.com")
            let defaults = try decodeJSON(SettingsBody.self, from: try await ana.send(.get, "/api/settings").body).settings
            #expect(defaults.cooldown_seconds == 10 && defaults.ai_enabled == false)
            for body in [
                #"{"cooldown_seconds":-1,"human_pause_minutes":5,"ai_enabled":false,"business_description":"","fallback_text":""}"#,
                #"{"cooldown_seconds":5,"human_pause_minutes":99999,"ai_enabled":false,"business_description":"","fallback_text":""}"#,
                #"{"ai_daily_budget":-5}"#,
                #"{"ai_tone":"\#(String(repeating: "x", count: 201))"}"#,
                #"{"ai_memory":"yes"}"#,
                #"not json"#,
            ] {
                #expect(try await ana.send(.put, "/api/settings", body).status == .badRequest, "\(body)")
            }
            // Nothing above changed anything.
            let after = try decodeJSON(SettingsBody.self, from: try await ana.send(.get, "/api/settings").body).settings
            #expect(after == defaults)
        }
    }

    @Test func aiSettingsArePartialUpdatesAndReadBack() async throws {
        try await withAuth { client, _ in
            let ana = Browser(client)
            try await ana.signUpAndIn("ai@example.com")
            let defaults = try decodeJSON(SettingsBody.self, from: try await ana.send(.get, "/api/settings").body).settings
            #expect(defaults.ai_daily_budget == 200 && defaults.ai_memory == false && defaults.ai_tone == "")
            let saved = try await ana.send(
                .put, "/api/settings",
                #"{"ai_enabled":true,"business_description":" Vegan bakery in Lyon ","ai_tone":"warm","ai_memory":true,"ai_daily_budget":50,"fallback_text":"We will answer soon."}"#)
            #expect(saved.status == .ok)
            let read = try decodeJSON(SettingsBody.self, from: try await ana.send(.get, "/api/settings").body).settings
            #expect(read == SettingsBody.Settings(
                cooldown_seconds: 10, human_pause_minutes: 60, ai_enabled: true, business_description: "Vegan bakery in Lyon", ai_tone: "warm",
                fallback_text: "We will answer soon.", ai_memory: true, ai_daily_budget: 50))
            #expect(try decodeJSON(SettingsBody.self, from: saved.body).settings == read, "the PUT answers what was saved")
            // A later partial update keeps what it does not name.
            _ = try await ana.send(.put, "/api/settings", #"{"ai_enabled":false}"#)
            let after = try decodeJSON(SettingsBody.self, from: try await ana.send(.get, "/api/settings").body).settings
            #expect(after.ai_enabled == false && after.ai_daily_budget == 50 && after.ai_tone == "warm")
        }
    }

    @Test func iceBreakersAreLimitedAndSavingQueuesTheirSync() async throws {
        try await withAuth { client, database in
            let ana = Browser(client)
            try await ana.signUpAndIn("ib@example.com")
            let five = (1...5).map { #"{"question":"Q\#($0)?","answer":"A\#($0)"}"# }.joined(separator: ",")
            #expect(try await ana.send(.put, "/api/ice-breakers", #"{"items":[\#(five)]}"#).status == .badRequest)
            #expect(try await ana.send(.put, "/api/ice-breakers", #"{"items":[{"question":"","answer":"x"}]}"#).status == .badRequest)
            let saved = try await ana.send(.put, "/api/ice-breakers", #"{"items":[{"question":"Hours?","answer":"9-18"},{"question":"Where?","answer":"Lisbon"}]}"#)
            #expect(saved.status == .ok)
            struct Items: Decodable, Equatable {
                struct Item: Decodable, Equatable {
                    let question: String
                    let answer: String
                }
                let items: [Item]
            }
            let listed = try JSONDecoder().decode(Items.self, from: Data(try await ana.send(.get, "/api/ice-breakers").body.readableBytesView))
            #expect(listed == (try JSONDecoder().decode(Items.self, from: Data(saved.body.readableBytesView))))
            #expect(listed.items.map(\.question) == ["Hours?", "Where?"])
            let kinds = try await database.withClient(logger: .quiet("db")) { db in
                var kinds: [String] = []
                for try await kind in try await db.query("SELECT kind FROM jobs").decode(String.self) { kinds.append(kind) }
                return kinds
            }
            // (Besides the sign-up's verification mail, and auth's hourly purge, queued at start and still there when the
            // machine is busy enough that auth's worker has not run it yet.)
            #expect(kinds.filter { $0 != MailJob.kind && $0 != AuthPurgeJob.kind } == ["instagram.ice_breakers_sync"])
        }
    }
}

@Suite struct RateLimitTests {
    /// Two auth replicas share one database: failures on either count toward the same limit, whatever
    /// X-Forwarded-For the client invents.
    @Test func theLimitHoldsAcrossTwoReplicas() async throws {
        try await TestDatabase.withFresh { database in
            var configuration = AuthConfiguration(
                common: CommonConfiguration(database: database.configuration, port: 0), passwordPepper: TestSecrets.passwordPepper, bcryptCost: TestSecrets.bcryptCost, instagram: TestSecrets.instagram(), vault: TokenVault.testing().vault)
            configuration.signInBaseDelaySeconds = 60
            let first = try await buildApplication(configuration: configuration, logger: .quiet("a1"))
            let second = try await buildApplication(configuration: configuration, logger: .quiet("a2"))
            try await first.test(.router) { one in
                try await second.test(.router) { two in
                    for client in [one, two] {
                        try await waitUntilReady(client)
                    }
                    var statuses: [HTTPResponse.Status] = []
                    var retryAfter: String?
                    for attempt in 0..<12 {
                        let browser = Browser(attempt % 2 == 0 ? one : two)
                        let response = try await browser.send(
                            .post, "/api/auth/login", #"{"email":"victim@example.com","password":"guess number \#(attempt)"}"#,
                            headers: [.forwardedFor: "10.0.0.\(attempt)"])
                        statuses.append(response.status)
                        if response.status == .tooManyRequests { retryAfter = response.headers[.retryAfter] }
                    }
                    // Three failures of this client (X-Forwarded-For from an untrusted peer changes nothing) for this
                    // email, then it must wait (429 with Retry-After), on both replicas.
                    #expect(statuses.prefix(3).allSatisfy { $0 == .unauthorized })
                    #expect(statuses.suffix(9).allSatisfy { $0 == .tooManyRequests })
                    #expect(Int(retryAfter ?? "") ?? 0 > 0)
                }
            }
        }
    }
}

@Suite struct SecretsInLogsTests {
    @Test func noPasswordCookieOrEmailTextReachesTheLogs() async throws {
        let logs = InMemoryLogHandler()
        var logger = Logger(label: "auth") { _ in logs }
        logger.logLevel = .trace
        let password = "pw-CANARY-\(UUID().uuidString)"
        try await withAuth(logger: logger) { client, _ in
            let browser = Browser(client)
            try await browser.signUpAndIn("canary@example.com", password)
            _ = try await browser.send(.post, "/api/auth/login", #"{"email":"canary@example.com","password":"wrong-\#(password)"}"#)
            _ = try await browser.send(.post, "/api/auth/password", #"{"current_password":"\#(password)","new_password":"\#(password)-2"}"#)
            let cookie = try #require(browser.cookie)
            let text = logs.entries.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n")
            #expect(!text.isEmpty)
            for canary in [password, cookie, "canary@example.com"] { #expect(!text.contains(canary)) }
        }
    }
}
