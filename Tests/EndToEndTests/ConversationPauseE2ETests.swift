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
}
