import FlowtalkTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import AuthService

/// Issue 16, items 2, 4, 5 and 6, through the API: Instagram's limits on quick replies and buttons are refused in words
/// next to their field, options must lead to the account's own rules, and the new settings are validated and kept.
@Suite struct MenuSettingsAPITests {
    struct Body: Decodable {
        struct Option: Decodable {
            let title: String
            let next_rule_id: String
        }
        struct Rule: Decodable {
            let id: String
            let quick_replies: [Option]
            let buttons: [Option]
        }
        let rule: Rule
    }

    static func options(_ count: Int, title: String = "Option", to id: String) -> String {
        "[" + (0..<count).map { #"{"title":"\#(title) \#($0)","next_rule_id":"\#(id)"}"# }.joined(separator: ",") + "]"
    }

    @Test func quickRepliesAndButtonsKeepInstagramsLimits() async throws {
        try await withAuth { client, _ in
            let ana = Browser(client)
            try await ana.signUpAndIn("menus@example.com")
            let target = try decodeJSON(Body.self, from: try await ana.send(.post, "/api/rules", #"{"keywords":["prices"],"reply":"From 10 EUR."}"#).body).rule

            func refused(_ body: String, field: String, saying words: String) async throws {
                let response = try await ana.send(.post, "/api/rules", body)
                let text = String(buffer: response.body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(text.contains(#""field":"\#(field)""#) && text.contains(words), "\(text)")
            }
            try await refused(
                #"{"keywords":["menu"],"reply":"Pick one","quick_replies":\#(Self.options(14, to: target.id))}"#, field: "quick_replies",
                saying: "at most 13 quick replies (this has 14)")
            try await refused(
                #"{"keywords":["menu"],"reply":"Pick one","quick_replies":[{"title":"123456789012345678901","next_rule_id":"\#(target.id)"}]}"#,
                field: "quick_replies", saying: "has 21")
            try await refused(
                #"{"keywords":["menu"],"reply":"Pick one","buttons":\#(Self.options(4, title: "B", to: target.id))}"#, field: "buttons",
                saying: "at most 3 buttons (this has 4)")
            try await refused(
                #"{"keywords":["menu"],"reply":"Pick one","buttons":\#(Self.options(1, to: target.id)),"quick_replies":\#(Self.options(1, to: target.id))}"#,
                field: "buttons", saying: "not both")
            try await refused(
                #"{"keywords":["menu"],"reply":"\#(String(repeating: "x", count: 641))","buttons":\#(Self.options(1, to: target.id))}"#, field: "reply",
                saying: "640")
            try await refused(
                #"{"keywords":["menu"],"reply":"Pick one","quick_replies":\#(Self.options(1, to: UUID().uuidString.lowercased()))}"#,
                field: "quick_replies", saying: "does not exist")

            // Another account's rule is not one of this account's rules.
            let bob = Browser(client)
            try await bob.signUpAndIn("menus-bob@example.com")
            let foreign = try await bob.send(.post, "/api/rules", #"{"keywords":["menu"],"reply":"Pick","quick_replies":\#(Self.options(1, to: target.id))}"#)
            #expect(foreign.status == .badRequest && String(buffer: foreign.body).contains("does not exist"))

            // Thirteen quick replies of 20 characters are fine, and a PUT without options keeps them.
            let created = try await ana.send(
                .post, "/api/rules", #"{"keywords":["menu"],"reply":"Pick one","quick_replies":\#(Self.options(13, title: "Twenty characters", to: target.id))}"#)
            #expect(created.status == .created)
            let menu = try decodeJSON(Body.self, from: created.body).rule
            #expect(menu.quick_replies.count == 13 && menu.buttons.isEmpty && menu.quick_replies[0].next_rule_id == target.id)
            let kept = try decodeJSON(Body.self, from: try await ana.send(.put, "/api/rules/\(menu.id)", #"{"keywords":["menu"],"reply":"Pick"}"#).body).rule
            #expect(kept.quick_replies.count == 13)
        }
    }

    @Test func greetingsAndBusinessHoursAreValidatedAndKept() async throws {
        try await withAuth { client, _ in
            let ana = Browser(client)
            try await ana.signUpAndIn("hours@example.com")
            for (body, field) in [
                (#"{"time_zone":"Mars/Olympus"}"#, "time_zone"),
                (#"{"business_hours":{"monday":[["09:00","18:00"]]}}"#, "business_hours"),
                (#"{"business_hours":{"mon":[["18:00","09:00"]]}}"#, "business_hours"),
                (#"{"business_hours":{"mon":[["09:00","13:00"],["12:00","18:00"]]}}"#, "business_hours"),
                (#"{"business_hours":{"mon":[["9:00","25:00"]]}}"#, "business_hours"),
                (#"{"welcome_mode":"after"}"#, "welcome_mode"),
                (#"{"bot_disclosure_text":"\#(String(repeating: "x", count: 301))"}"#, "bot_disclosure_text"),
            ] {
                let response = try await ana.send(.put, "/api/settings", body)
                #expect(response.status == .badRequest && String(buffer: response.body).contains(#""field":"\#(field)""#), "\(body)")
            }
            let saved = try await ana.send(
                .put, "/api/settings",
                #"{"welcome_text":"Welcome!","welcome_mode":"instead","away_text":"Closed now.","time_zone":"Europe/Berlin","rules_out_of_hours":false,"business_hours":{"fri":[["13:00","18:00"],["09:00","12:00"]]},"bot_disclosure_text":"I am a bot.","ai_hand_off":true}"#)
            #expect(saved.status == .ok)
            let text = String(buffer: try await ana.send(.get, "/api/settings").body)
            for expected in [
                #""welcome_text":"Welcome!""#, #""welcome_mode":"instead""#, #""away_text":"Closed now.""#, #""time_zone":"Europe/Berlin""#,
                #""rules_out_of_hours":false"#, #""bot_disclosure_text":"I am a bot.""#, #""ai_hand_off":true"#,
                #""business_hours":{"fri":[["09:00","12:00"],["13:00","18:00"]]}"#,
            ] { #expect(text.contains(expected), "\(expected) in \(text)") }
        }
    }
}
