import FlowtalkTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// Issue 12: `POST /api/rules/test` with "a" × 24 + "b" against a saved `(a|aa)+$` took 0.30 s on the backtracking
/// engine, doubling every two characters; with 40 it would take minutes. On RE2 the tester answers whatever the text.
@Suite(.timeLimit(.minutes(1))) struct RegexRuleTests {
    struct Tested: Decodable {
        struct Match: Decodable { let keyword: String }
        let match: Match?
    }

    @Test func theRuleTesterAnswersAnExplosivePatternOnAnAdversarialText() async throws {
        try await withAuth { client, _ in
            let ana = Browser(client)
            try await ana.signUpAndIn("regex@example.com")
            let created = try await ana.send(.post, "/api/rules", #"{"keywords":["(a|aa)+$"],"match_type":"regex","reply":"Only a's."}"#)
            #expect(created.status == .created)
            let adversarial = String(repeating: "a", count: 40) + "b"
            let missed = try await ana.send(.post, "/api/rules/test", #"{"text":"\#(adversarial)"}"#)
            #expect(missed.status == .ok)
            #expect(try decodeJSON(Tested.self, from: missed.body).match == nil)
            let hit = try await ana.send(.post, "/api/rules/test", #"{"text":"\#(String(repeating: "a", count: 40))"}"#)
            #expect(try decodeJSON(Tested.self, from: hit.body).match?.keyword == "(a|aa)+$")
        }
    }

    /// What RE2 cannot run is refused with the reason, quoting the pattern.
    @Test func aBackreferenceIsRefusedWithTheReason() async throws {
        try await withAuth { client, _ in
            let ana = Browser(client)
            try await ana.signUpAndIn("backref@example.com")
            let refused = try await ana.send(.post, "/api/rules", #"{"keywords":["(a)\\1"],"match_type":"regex","reply":"x"}"#)
            #expect(refused.status == .badRequest)
            #expect(errorCode(refused) == "invalid_rule")
            #expect(String(buffer: refused.body).contains("backreference"))
        }
    }
}
