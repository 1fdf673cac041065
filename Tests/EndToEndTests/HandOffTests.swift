import FlowtalkCore
import FlowtalkDevSupport
import FlowtalkStore
import FlowtalkTesting
import Foundation
import PostgresNIO
import Testing

/// Issue 16, item 3, over the real binaries: a hand-off rule sends its text, then the bot steps back from that
/// conversation for the rule's time, and the conversation waits for a person (the log, and the count the dashboard's
/// home page shows). Other customers are still answered.
@Suite(.serialized) struct HandOffTests {
    typealias Loop = ReplyLoopTests

    @Test func aHandOffRuleRepliesThenLeavesTheConversationToAPerson() async throws {
        try await Loop.withStack { stack, _ in
            let seeder = AccountSeeder(client: stack.client, vault: stack.vault, logger: .quiet("seed"))
            try await seeder.addRule(
                accountID: stack.accountID, keywords: ["talk to a person"], reply: "Of course, someone from our team will answer you here.", handOffMinutes: 120)
            let customer = "cust-human"
            _ = try await Loop.dm(stack, from: customer, "Can I talk to a person please?")
            try await eventually("the hand-off recorded") { try await Loop.activity(stack, customer: customer).map(\.1).contains("hand_off") }
            #expect(try await Loop.outgoing(stack, to: customer) == ["Of course, someone from our team will answer you here."])
            #expect(try await Loop.activity(stack, customer: customer).map(\.0) == ["replied", "paused"])

            // The bot stays out of it: the customer's next question is left to the person; others are answered.
            _ = try await Loop.dm(stack, from: customer, "how much is it?")
            _ = try await Loop.dm(stack, from: "cust-other", "how much is it?")
            try await eventually("both decided") {
                let mine = try await Loop.activity(stack, customer: customer)
                let other = try await Loop.outgoing(stack, to: "cust-other")
                return mine.count == 3 && other.count == 1
            }
            #expect(try await Loop.activity(stack, customer: customer).last?.1 == "human_active")
            #expect(try await Loop.outgoing(stack, to: customer).count == 1)

            // The dashboard's home page counts it as waiting for a person.
            let facts = try await AccountStore(client: Database(stack.client), logger: .quiet("q")).healthFacts(accountID: stack.accountID)
            #expect(facts.waitingForYou == 1)
            var handOffs: Int64 = 0
            for try await n in try await stack.client.query(
                "SELECT coalesce(sum(count), 0)::int8 FROM hourly_counts WHERE metric = 'hand_offs'", logger: .quiet("q")
            ).decode(Int64.self) { handOffs = n }
            #expect(handOffs == 1)
        }
    }
}
