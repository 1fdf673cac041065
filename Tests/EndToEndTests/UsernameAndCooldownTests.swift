import FlowtalkCore
import FlowtalkDevSupport
import FlowtalkStore
import FlowtalkTesting
import Foundation
import NIOHTTP1
import PostgresNIO
import Testing

/// Issue 15's two broken promises, over the real binaries: `{username}` in a reply is the customer's Instagram username,
/// fetched when the reply is sent and never stored, with a tidy reply when it cannot be had; and the cooldown stops the
/// same answer from repeating, never a new question.
@Suite(.serialized) struct UsernameAndCooldownTests {
    typealias Loop = ReplyLoopTests

    /// A customer's DM through the sandbox, with the username its User Profile API will give ("" = no profile).
    static func dm(_ stack: Loop.Stack, from customer: String, _ text: String, username: String? = nil) async throws {
        var fields = [#""ig_id":"\#(Loop.shop)""#, #""from":"\#(customer)""#, #""text":"\#(text)""#]
        if let username { fields.append(#""username":"\#(username)""#) }
        let (status, body) = try await Loop.post("\(stack.sandbox)/simulate/dm", "{\(fields.joined(separator: ","))}")
        #expect(status == .ok && body.contains(#""ingest_status":200"#))
    }

    @Test func usernameIsFilledFromInstagramAndLeftOutCleanlyWhenItCannotBeHad() async throws {
        try await Loop.withStack { stack, _ in
            let seeder = AccountSeeder(client: stack.client, vault: stack.vault, logger: .quiet("seed"))
            try await seeder.addRule(accountID: stack.accountID, keywords: ["hello"], reply: "Hi {username}, thanks for writing!")

            try await Self.dm(stack, from: "cust-named", "hello there", username: "maria.rossi")
            try await eventually("the named reply") { try await Loop.outgoing(stack, to: "cust-named").count == 1 }
            #expect(try await Loop.outgoing(stack, to: "cust-named") == ["Hi maria.rossi, thanks for writing!"])

            // A customer whose profile Instagram will not give (one who blocked the business): no name, no stray comma.
            try await Self.dm(stack, from: "cust-hidden", "hello", username: "")
            try await eventually("the reply without a name") { try await Loop.outgoing(stack, to: "cust-hidden").count == 1 }
            #expect(try await Loop.outgoing(stack, to: "cust-hidden") == ["Hi, thanks for writing!"])

            // The name went out in the message and nowhere else: the log keeps the answer without it.
            var summaries: [String?] = []
            for try await summary in try await stack.client.query(
                "SELECT reply_summary FROM activity WHERE customer_id = 'cust-named'", logger: .quiet("q")
            ).decode(String?.self) { summaries.append(summary) }
            #expect(summaries == ["Hi, thanks for writing!"])
            for table in ["activity", "replies", "conversations", "jobs", "sent_messages", "handled_events"] {
                let rows = try await stack.client.query(
                    PostgresQuery(unsafeSQL: "SELECT count(*)::int8 FROM \(table) t WHERE t::text LIKE '%maria.rossi%'"), logger: .quiet("q"))
                for try await count in rows.decode(Int64.self) { #expect(count == 0, "\(table) holds the customer's username") }
            }
        }
    }

    @Test func theCooldownStopsTheSameAnswerNotANewQuestion() async throws {
        try await Loop.withStack { stack, _ in
            let seeder = AccountSeeder(client: stack.client, vault: stack.vault, logger: .quiet("seed"))
            try await seeder.setSettings(accountID: stack.accountID, AccountSettings(cooldownSeconds: 600, humanPauseMinutes: 60))
            try await seeder.addRule(accountID: stack.accountID, keywords: ["ship"], reply: "We ship in 2 days.")
            let customer = "cust-cooldown"

            try await Self.dm(stack, from: customer, "how much is it?")
            try await eventually("the first answer") { try await Loop.outgoing(stack, to: customer).count == 1 }
            // A different question a moment later is answered: the cooldown is about repeating an answer.
            try await Self.dm(stack, from: customer, "do you ship to Lyon?")
            try await eventually("the second answer") { try await Loop.outgoing(stack, to: customer).count == 2 }
            // The first question again, within the cooldown: that answer is not sent twice.
            try await Self.dm(stack, from: customer, "how much?")
            try await eventually("the repeat decided") { try await Loop.activity(stack, customer: customer).count == 3 }
            #expect(try await Loop.outgoing(stack, to: customer) == ["Our prices start at 10 EUR.", "We ship in 2 days."])
            let decided = try await Loop.activity(stack, customer: customer)
            #expect(decided.map(\.0) == ["replied", "replied", "skipped"] && decided.last?.1 == "cooldown")
        }
    }
}
