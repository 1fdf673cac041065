import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import FlowtalkTesting
import Foundation
import PostgresNIO
import Testing

/// Issue 15, item 5, over the real dispatch: the business pauses the bot for one customer (the job auth queues), that
/// customer's next message is not answered, and once turned back on it is; the thread says who paused it.
@Suite(.serialized) struct ConversationPauseE2ETests {
    typealias Loop = ReplyLoopTests

    @Test func thePauseFromTheDashboardHoldsTheBotBackForThatCustomerOnly() async throws {
        try await Loop.withStack { stack, _ in
            let queue = JobQueue(client: stack.client, logger: .quiet("q"))
            let customer = "cust-paused"
            _ = try await queue.enqueue([
                try ConversationPauseJob(accountID: stack.accountID, customerID: customer, minutes: 60).make(instagramUserID: Loop.shop),
            ])
            try await eventually("the pause recorded") { try await Loop.activity(stack, customer: customer).map(\.1) == ["owner_paused"] }

            _ = try await Loop.dm(stack, from: customer, "how much is it?")
            _ = try await Loop.dm(stack, from: "cust-other", "how much is it?")
            try await eventually("both decided") {
                let paused = try await Loop.activity(stack, customer: customer)
                let other = try await Loop.outgoing(stack, to: "cust-other")
                return paused.count == 2 && other.count == 1
            }
            #expect(try await Loop.activity(stack, customer: customer).last?.1 == "human_active")
            #expect(try await Loop.outgoing(stack, to: customer).isEmpty)

            _ = try await queue.enqueue([
                try ConversationPauseJob(accountID: stack.accountID, customerID: customer, minutes: 0).make(instagramUserID: Loop.shop),
            ])
            try await eventually("the bot back on") { try await Loop.activity(stack, customer: customer).last?.1 == "owner_resumed" }
            _ = try await Loop.dm(stack, from: customer, "and the price?")
            try await eventually("answered again") { try await Loop.outgoing(stack, to: customer).count == 1 }
        }
    }

    /// The business pauses the bot for a week and answers the customer from Instagram, as the dashboard suggests: the
    /// person's reply (which pauses for `human_pause_minutes`, 60 here) must not cut the week short.
    @Test func answeringInInstagramKeepsALongerPauseFromTheDashboard() async throws {
        try await Loop.withStack { stack, _ in
            let customer = "cust-week"
            _ = try await JobQueue(client: stack.client, logger: .quiet("q")).enqueue([
                try ConversationPauseJob(accountID: stack.accountID, customerID: customer, minutes: 10_080).make(instagramUserID: Loop.shop),
            ])
            try await eventually("paused for a week") { try await Loop.activity(stack, customer: customer).map(\.1) == ["owner_paused"] }
            _ = try await Loop.dm(stack, from: customer, "I answer myself", echo: true)
            try await eventually("the person's reply recorded") { try await Loop.activity(stack, customer: customer).count == 2 }
            var days = 0.0
            for try await left in try await stack.client.query(
                "SELECT EXTRACT(EPOCH FROM paused_until - now())::float8 / 86400 FROM conversations WHERE customer_id = \(customer)", logger: .quiet("q")
            ).decode(Double.self) { days = left }
            #expect(days > 6.9, "the pause now ends in \(days) days")
        }
    }
}
