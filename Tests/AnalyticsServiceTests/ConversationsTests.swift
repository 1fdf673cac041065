@testable import AnalyticsService
import FlowtalkTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Testing

/// Issue 15, item 5: the activity log as conversations: grouped by customer, most recently active first, searchable,
/// each with its thread and whether the bot is paused for that customer; one account never sees another's.
@Suite struct ConversationsTests {
    struct Page: Decodable {
        struct Conversation: Decodable {
            let customer_id: String
            let last_id: String
            let entries: Int
            let last_summary: String?
            let last_outcome: String
            let paused_until: Date?
        }
        let conversations: [Conversation]
        let next_before: String?
    }
    struct Thread: Decodable {
        struct Item: Decodable { let customer_id: String?; let summary: String? }
        let items: [Item]
    }

    func write(_ shops: Shops, _ account: UUID, _ customer: String, _ summary: String, outcome: String = "replied") async throws {
        try await shops.client.query(
            """
            INSERT INTO activity (account_id, customer_id, event_kind, summary, reply_summary, outcome)
            VALUES (\(account), \(customer), 'message', \(summary), 'Thanks!', \(outcome))
            """, logger: .quiet("q"))
    }

    @Test func theLogIsGroupedByCustomerSearchableAndEachThreadIsItsOwn() async throws {
        try await withAnalytics(prepare: { shops in
            try await write(shops, shops.ana, "maria", "Do you ship to Porto?")
            try await write(shops, shops.ana, "joao", "What are your hours?", outcome: "skipped")
            try await write(shops, shops.ana, "maria", "And to Lisbon?")
            try await write(shops, shops.bob, "maria", "Bob's customer, not Ana's")
            try await shops.client.query(
                "INSERT INTO conversations (account_id, customer_id, paused_until) VALUES (\(shops.ana), 'joao', now() + interval '1 hour')",
                logger: .quiet("q"))
        }) { http, shops in
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let all = try decoder.decode(Page.self, from: Data(try await http.get("/api/conversations", cookie: shops.anaCookie).body.readableBytesView))
            // Most recently active first: maria wrote last.
            #expect(all.conversations.map(\.customer_id) == ["maria", "joao"])
            #expect(all.conversations[0].entries == 2 && all.conversations[0].last_summary == "And to Lisbon?")
            #expect(all.conversations[0].paused_until == nil && all.conversations[1].paused_until != nil)
            #expect(all.conversations[1].last_outcome == "skipped")

            let found = try decoder.decode(Page.self, from: Data(try await http.get("/api/conversations?q=PORTO", cookie: shops.anaCookie).body.readableBytesView))
            #expect(found.conversations.map(\.customer_id) == ["maria"] && found.conversations[0].entries == 1)
            let page = try decoder.decode(Page.self, from: Data(try await http.get("/api/conversations?limit=1", cookie: shops.anaCookie).body.readableBytesView))
            #expect(page.conversations.map(\.customer_id) == ["maria"] && page.next_before == page.conversations[0].last_id)
            let next = try decoder.decode(
                Page.self, from: Data(try await http.get("/api/conversations?limit=1&before=\(page.next_before ?? "")", cookie: shops.anaCookie).body.readableBytesView))
            #expect(next.conversations.map(\.customer_id) == ["joao"] && next.next_before == nil)

            let thread = try decoder.decode(Thread.self, from: Data(try await http.get("/api/activity?customer=maria", cookie: shops.anaCookie).body.readableBytesView))
            #expect(thread.items.map(\.summary) == ["And to Lisbon?", "Do you ship to Porto?"])
            // Bob's maria is Bob's.
            let bobs = try decoder.decode(Page.self, from: Data(try await http.get("/api/conversations", cookie: shops.bobCookie).body.readableBytesView))
            #expect(bobs.conversations.map(\.last_summary) == ["Bob's customer, not Ana's"])

            let bad = try await http.get("/api/conversations?limit=0", cookie: shops.anaCookie)
            #expect(bad.status == .badRequest)
            #expect(try await http.get("/api/conversations", cookie: nil).status == .unauthorized)
        }
    }
}
