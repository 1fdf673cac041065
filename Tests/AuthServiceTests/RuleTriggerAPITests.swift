import FlowtalkTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import AuthService

/// Issue 16, items 1 and 3, through the API: a rule's trigger and hand-off are validated in words, a story rule may
/// have no keyword, and a PUT that leaves them out (a client from before them) keeps what is stored.
@Suite struct RuleTriggerAPITests {
    struct Body: Decodable {
        struct Rule: Decodable {
            let id: String
            let trigger: String
            let action: String
            let hand_off_minutes: Int?
        }
        let rule: Rule
    }

    @Test func triggersAndHandOffsAreValidatedAndKeptByAnOlderClientsPut() async throws {
        try await withAuth { client, _ in
            let ana = Browser(client)
            try await ana.signUpAndIn("triggers@example.com")
            let mention = try await ana.send(.post, "/api/rules", #"{"keywords":[],"reply":"Thanks for the mention!","trigger":"story_mention"}"#)
            #expect(mention.status == .created)
            let story = try decodeJSON(Body.self, from: mention.body).rule
            #expect(story.trigger == "story_mention" && story.action == "reply")

            let noKeyword = try await ana.send(.post, "/api/rules", #"{"keywords":[],"reply":"x"}"#)
            #expect(noKeyword.status == .badRequest && String(buffer: noKeyword.body).contains(#""field":"keywords""#))
            let badTrigger = try await ana.send(.post, "/api/rules", #"{"keywords":["a"],"reply":"x","trigger":"dm"}"#)
            #expect(badTrigger.status == .badRequest && String(buffer: badTrigger.body).contains(#""field":"trigger""#))
            for minutes in [0, 10_081] {
                let bad = try await ana.send(.post, "/api/rules", #"{"keywords":["a"],"reply":"x","action":"hand_off","hand_off_minutes":\#(minutes)}"#)
                #expect(bad.status == .badRequest && String(buffer: bad.body).contains(#""field":"hand_off_minutes""#))
            }
            let handOff = try decodeJSON(Body.self, from: try await ana.send(
                .post, "/api/rules", #"{"keywords":["person"],"reply":"Someone will answer.","action":"hand_off","hand_off_minutes":90}"#).body).rule
            #expect(handOff.action == "hand_off" && handOff.hand_off_minutes == 90)

            // An older dashboard turns rules off with the fields it knows: trigger and hand-off stay.
            let off = try decodeJSON(Body.self, from: try await ana.send(
                .put, "/api/rules/\(handOff.id)", #"{"keywords":["person"],"reply":"Someone will answer.","enabled":false}"#).body).rule
            #expect(off.action == "hand_off" && off.hand_off_minutes == 90)
            let stillMention = try await ana.send(.put, "/api/rules/\(story.id)", #"{"keywords":[],"reply":"Thanks!","enabled":false}"#)
            let kept = try decodeJSON(Body.self, from: stillMention.body).rule.trigger
            #expect(stillMention.status == .ok && kept == "story_mention")
        }
    }
}
