import FlowtalkTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PostgresNIO
import AIReplies
import FlowtalkCore
import Logging
@testable import SandboxService
import Testing

@testable import AuthService

/// Issue 16, item 8: "Try the bot" runs the real decision on typed messages and taps — rules, menus, hand-off,
/// welcome, disclosure, business hours — and says what would be sent and why, without sending or logging anything.
@Suite struct TryAPITests {
    struct Rule: Decodable { let rule: ID }
    struct ID: Decodable { let id: String }
    struct Answer: Decodable {
        struct Option: Decodable {
            let title: String
            let payload: String
        }
        struct Message: Decodable {
            let text: String
            let quick_replies: [Option]
            let buttons: [Option]
        }
        let messages: [Message]
        let path: String
        let rule_id: String?
        let explanation: String
        let hand_off_minutes: Int?
        let state: [String: StateValue]
    }
    /// The state is opaque to the client: kept as it came.
    enum StateValue: Codable, Equatable {
        case bool(Bool), string(String), null
        init(from decoder: any Decoder) throws {
            let value = try decoder.singleValueContainer()
            if value.decodeNil() { self = .null } else if let flag = try? value.decode(Bool.self) { self = .bool(flag) } else { self = .string(try value.decode(String.self)) }
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .bool(let flag): try container.encode(flag)
            case .string(let text): try container.encode(text)
            case .null: try container.encodeNil()
            }
        }
    }

    static func state(_ answer: Answer) throws -> String { String(decoding: try JSONEncoder().encode(answer.state), as: UTF8.self) }

    @Test func aMenuIsWalkedWithTapsUntilTheHandOffAndNothingIsLogged() async throws {
        try await withAuth { client, database in
            let ana = Browser(client)
            try await ana.signUpAndIn("try@example.com")
            func rule(_ json: String) async throws -> String {
                let response = try await ana.send(.post, "/api/rules", json)
                #expect(response.status == .created, "\(String(buffer: response.body))")
                return try decodeJSON(Rule.self, from: response.body).rule.id
            }
            let person = try await rule(#"{"keywords":["zzz-person"],"reply":"Someone will answer you here.","action":"hand_off","hand_off_minutes":30}"#)
            let prices = try await rule(
                #"{"keywords":["zzz-prices"],"reply":"Shirts are 20 EUR.","buttons":[{"title":"Talk to a person","next_rule_id":"\#(person)"}]}"#)
            _ = try await rule(
                #"{"keywords":["menu"],"reply":"Hi {username}, what can I help with?","quick_replies":[{"title":"Prices","next_rule_id":"\#(prices)"},{"title":"Talk to a person","next_rule_id":"\#(person)"}]}"#)
            #expect(try await ana.send(.put, "/api/settings", #"{"welcome_text":"Welcome!","bot_disclosure_text":"I am a bot."}"#).status == .ok)

            func tryIt(_ json: String) async throws -> Answer {
                let response = try await ana.send(.post, "/api/try", json)
                #expect(response.status == .ok, "\(String(buffer: response.body))")
                return try decodeJSON(Answer.self, from: response.body)
            }
            let first = try await tryIt(#"{"text":"menu"}"#)
            #expect(first.messages.map(\.text) == ["I am a bot.", "Welcome!", "Hi jane_doe, what can I help with?"])
            #expect(first.messages.last?.quick_replies.map(\.title) == ["Prices", "Talk to a person"])
            #expect(first.path == "rule" && first.explanation.contains("“menu”"))

            let tap = try #require(first.messages.last?.quick_replies.first)
            let second = try await tryIt(#"{"text":"Prices","payload":"\#(tap.payload)","state":\#(try Self.state(first))}"#)
            #expect(second.messages.map(\.text) == ["Shirts are 20 EUR."])
            #expect(second.rule_id == prices && second.explanation.contains("tapped “Prices”"))
            let button = try #require(second.messages.first?.buttons.first)

            let third = try await tryIt(#"{"text":"Talk to a person","payload":"\#(button.payload)","state":\#(try Self.state(second))}"#)
            #expect(third.messages.map(\.text) == ["Someone will answer you here."])
            #expect(third.hand_off_minutes == 30 && third.rule_id == person)

            // Handed off: the bot stays quiet in this conversation; a new customer gets the menu again.
            let quiet = try await tryIt(#"{"text":"menu","state":\#(try Self.state(third))}"#)
            #expect(quiet.messages.isEmpty && quiet.path == "none" && quiet.explanation.contains("handed to you"))
            #expect(try await tryIt(#"{"text":"menu"}"#).messages.count == 3)

            // Nothing was sent, logged or counted.
            let rows = try await database.withClient { client in
                var total: Int64 = 0
                for try await n in try await client.query("SELECT (SELECT count(*) FROM activity) + (SELECT count(*) FROM hourly_counts) + (SELECT count(*) FROM jobs WHERE kind LIKE 'inbound%')").decode(Int64.self) { total = n }
                return total
            }
            #expect(rows == 0)
        }
    }

    @Test func businessHoursAreTriedAtAChosenTimeAndBadInputIsRefused() async throws {
        try await withAuth { client, _ in
            let ana = Browser(client)
            try await ana.signUpAndIn("try-hours@example.com")
            #expect(try await ana.send(.post, "/api/rules", #"{"keywords":["price"],"reply":"From 10 EUR."}"#).status == .created)
            #expect(try await ana.send(
                .put, "/api/settings", #"{"away_text":"Closed now.","time_zone":"Europe/Berlin","business_hours":{"mon":[["09:00","17:00"]]}}"#).status == .ok)
            // Monday 2026-12-07, 20:00 in Berlin: closed. Rules still answer (the default), after the away message.
            let closed = try decodeJSON(Answer.self, from: try await ana.send(.post, "/api/try", #"{"text":"price?","at":"2026-12-07T20:00:00+01:00"}"#).body)
            #expect(closed.messages.map(\.text) == ["Closed now.", "From 10 EUR."])
            let again = try decodeJSON(Answer.self, from: try await ana.send(
                .post, "/api/try", #"{"text":"price?","at":"2026-12-07T21:00:00+01:00","state":\#(try Self.state(closed))}"#).body)
            #expect(again.messages.map(\.text) == ["From 10 EUR."])
            // 10:00 the same day: open, no away message.
            let open = try decodeJSON(Answer.self, from: try await ana.send(.post, "/api/try", #"{"text":"price?","at":"2026-12-07T10:00:00+01:00"}"#).body)
            #expect(open.messages.map(\.text) == ["From 10 EUR."])
            // No rule and the AI off: nothing, and why.
            let none = try decodeJSON(Answer.self, from: try await ana.send(.post, "/api/try", #"{"text":"hello","at":"2026-12-07T10:00:00+01:00"}"#).body)
            #expect(none.messages.isEmpty && none.path == "none" && none.explanation.contains("no rule answers"))

            for (body, field) in [(#"{"text":"hi","story":"post"}"#, "story"), (#"{"text":"hi","at":"yesterday"}"#, "at"), (#"{"text":"  "}"#, "text")] {
                let response = try await ana.send(.post, "/api/try", body)
                #expect(response.status == .badRequest && String(buffer: response.body).contains(#""field":"\#(field)""#), "\(body)")
            }
            #expect(try await Browser(client).send(.post, "/api/try", #"{"text":"hi"}"#).status == .unauthorized)
        }
    }
}

/// "Try the bot" asks the AI through the configured provider (here the sandbox's Groq stand-in, over HTTP with the
/// production client) when no rule answers; what it cannot answer shows the fallback, or the hand-off when that is on.
@Suite struct TryAIAPITests {
    @Test func theAIAnswersThroughTheConfiguredProvider() async throws {
        var sandbox = SandboxConfiguration(appSecret: Secret("s"), ingestURL: "http://127.0.0.1:9", port: 0)
        sandbox.logLevel = "error"
        let app = try await SandboxService.buildApplication(configuration: sandbox, logger: Logger(label: "sandbox-test"), mailbox: SandboxService.Mailbox())
        try await app.test(.live) { groq in
            let port = try #require(groq.port)
            try await withAuth(configure: { $0.groq = GroqConfiguration(baseURL: "http://127.0.0.1:\(port)/openai/v1", apiKey: Secret("gsk-test"), model: "m") }) {
                client, _ in
                let ana = Browser(client)
                try await ana.signUpAndIn("try-ai@example.com")
                #expect(try await ana.send(
                    .put, "/api/settings", #"{"ai_enabled":true,"business_description":"A bakery.","fallback_text":"A person will answer soon."}"#).status == .ok)
                let answered = try decodeJSON(TryAPITests.Answer.self, from: try await ana.send(.post, "/api/try", #"{"text":"Is the bread vegan?"}"#).body)
                #expect(answered.path == "ai" && answered.messages.map(\.text) == ["Thanks for asking! (sandbox AI answer)"])

                // It cannot help: the fallback; with hand-off on, the conversation is handed over instead.
                let fault = try await groq.execute(
                    uri: "/sandbox/groq/faults", method: .post, headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: #"{"faults":[{"kind":"cannot_help","count":2}]}"#))
                #expect(fault.status == .noContent)
                let fallback = try decodeJSON(TryAPITests.Answer.self, from: try await ana.send(.post, "/api/try", #"{"text":"Can you fix my oven?"}"#).body)
                #expect(fallback.path == "fallback" && fallback.messages.map(\.text) == ["A person will answer soon."])
                #expect(try await ana.send(.put, "/api/settings", #"{"ai_hand_off":true,"human_pause_minutes":45}"#).status == .ok)
                let handOff = try decodeJSON(TryAPITests.Answer.self, from: try await ana.send(.post, "/api/try", #"{"text":"Can you fix my oven?"}"#).body)
                #expect(handOff.path == "hand_off" && handOff.messages.isEmpty && handOff.hand_off_minutes == 45)
            }
        }
    }
}
