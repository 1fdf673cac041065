import FlowtalkCore
import FlowtalkDevSupport
import FlowtalkTesting
import Foundation
import HummingbirdTesting
import NIOCore
import ReplyRules
import Testing

/// Issue 16: statistics count taps per quick reply or button (named by the option's title now), reactions, hand-offs,
/// and the replies that were only a welcome or an away message.
@Suite struct MenuStatsTests {
    struct Body: Decodable {
        struct Totals: Decodable { let received, replied, replied_welcome, replied_away, hand_offs, reactions: Int }
        struct Option: Decodable {
            let rule_id: String
            let position: Int
            let title: String?
            let taps: Int
        }
        let totals: Totals
        let options: [Option]
    }

    @Test func tapsPerOptionReactionsAndHandOffsAreCounted() async throws {
        try await withAnalytics { http, shops in
            let (vault, _) = TokenVault.testing()
            let seeder = AccountSeeder(client: shops.client, vault: vault, logger: .quiet("seed"))
            let target = UUID().uuidString.lowercased()
            let menu = try await seeder.addRule(
                accountID: shops.ana, keywords: ["menu"], reply: "Pick one", optionKind: .quickReplies,
                options: [ReplyOption(title: "Prices", nextRuleID: target), ReplyOption(title: "Shipping", nextRuleID: target)])
            let id = menu.uuidString.lowercased()
            let hour = "2026-11-10 10:00:00+00"
            for (metric, count) in [
                ("received", 6), ("replied_rule", 3), ("replied_welcome", 1), ("replied_away", 1), ("hand_offs", 1), ("reactions", 2),
                ("option:\(id):0", 3), ("option:\(id):1", 1), ("option:\(id):5", 1),
            ] { try await shops.count(shops.ana, hour, metric, count) }
            try await shops.count(shops.bob, hour, "option:\(id):0", 50)

            let response = try await http.get("/api/stats?from=2026-11-10&to=2026-11-10&tz=UTC", cookie: shops.anaCookie)
            let text = String(buffer: response.body)
            let stats = try JSONDecoder().decode(Body.self, from: Data(text.utf8))
            #expect(stats.totals.received == 6 && stats.totals.replied == 5 && stats.totals.replied_welcome == 1 && stats.totals.replied_away == 1)
            #expect(stats.totals.hand_offs == 1 && stats.totals.reactions == 2)
            #expect(stats.options.map(\.position) == [0, 1, 5])
            #expect(stats.options.map(\.title) == ["Prices", "Shipping", nil])
            #expect(stats.options.map(\.taps) == [3, 1, 1])
            // An option the rule no longer has is still counted, its title null (not left out).
            #expect(text.contains(#""title":null"#))
        }
    }
}
