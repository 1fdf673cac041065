import FlowtalkCore
import FlowtalkDevSupport
import FlowtalkStore
import FlowtalkTesting
import Foundation
import NIOHTTP1
import PostgresNIO
import ReplyRules
import Testing

/// Issue 16, item 1, over the real binaries: a reply to the business's story and a story mention are their own kinds of
/// event; each rule answers the kind it was made for (direct messages by default), a mention without text is answered
/// by a mention rule without keywords, the log says what happened, and the story's address is kept nowhere.
@Suite(.serialized) struct StoryTriggerTests {
    typealias Loop = ReplyLoopTests

    static func story(_ stack: Loop.Stack, from customer: String, _ text: String, kind: String) async throws {
        let body = #"{"ig_id":"\#(Loop.shop)","from":"\#(customer)","text":"\#(text)","story":"\#(kind)"}"#
        let (status, answer) = try await Loop.post("\(stack.sandbox)/simulate/dm", body)
        #expect(status == .ok && answer.contains(#""ingest_status":200"#))
    }

    @Test func storyRepliesAndMentionsAreAnsweredByTheRulesMadeForThem() async throws {
        try await Loop.withStack { stack, _ in
            let seeder = AccountSeeder(client: stack.client, vault: stack.vault, logger: .quiet("seed"))
            // The stack's rule ("price", "how much") answers direct messages only.
            try await seeder.addRule(accountID: stack.accountID, keywords: ["price"], reply: "Story prices: 15 EUR.", trigger: .storyReply)
            try await seeder.addRule(accountID: stack.accountID, keywords: [], reply: "Thanks for the mention!", trigger: .storyMention)

            try await Self.story(stack, from: "cust-story", "what is the price?", kind: "reply")
            try await Self.story(stack, from: "cust-mention", "", kind: "mention")
            _ = try await Loop.dm(stack, from: "cust-dm", "what is the price?")
            try await eventually("all three answered") {
                let a = try await Loop.outgoing(stack, to: "cust-story"), b = try await Loop.outgoing(stack, to: "cust-mention")
                let c = try await Loop.outgoing(stack, to: "cust-dm")
                return a.count == 1 && b.count == 1 && c.count == 1
            }
            #expect(try await Loop.outgoing(stack, to: "cust-story") == ["Story prices: 15 EUR."])
            #expect(try await Loop.outgoing(stack, to: "cust-mention") == ["Thanks for the mention!"])
            #expect(try await Loop.outgoing(stack, to: "cust-dm") == ["Our prices start at 10 EUR."])

            // A story reply no story rule answers is not answered by a direct-message rule.
            try await Self.story(stack, from: "cust-story-2", "how much is it?", kind: "reply")
            try await eventually("decided") { try await Loop.activity(stack, customer: "cust-story-2").count == 1 }
            #expect(try await Loop.activity(stack, customer: "cust-story-2").first?.1 == "no_rule")

            var kinds: [String: String] = [:]
            for try await (customer, kind) in try await stack.client.query(
                "SELECT customer_id, event_kind FROM activity WHERE customer_id LIKE 'cust-%'", logger: .quiet("q")
            ).decode((String, String).self) { kinds[customer] = kind }
            #expect(kinds["cust-story"] == "story_reply" && kinds["cust-mention"] == "story_mention" && kinds["cust-dm"] == "message")
            // The story's CDN address is in no table (the job that carried the event is gone with it).
            for table in ["activity", "replies", "jobs", "handled_events"] {
                let rows = try await stack.client.query(
                    PostgresQuery(unsafeSQL: "SELECT count(*)::int8 FROM \(table) t WHERE t::text LIKE '%lookaside%'"), logger: .quiet("q"))
                for try await count in rows.decode(Int64.self) { #expect(count == 0, "\(table) holds the story's address") }
            }
        }
    }
}
