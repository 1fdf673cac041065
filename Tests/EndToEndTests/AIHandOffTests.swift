import FlowtalkCore
import FlowtalkDevSupport
import FlowtalkStore
import FlowtalkTesting
import Foundation
import PostgresNIO
import Testing

/// Issue 16, item 3: with `ai_hand_off` on, an AI answer that says it cannot help hands the conversation to a person
/// instead of sending the fallback: nothing is sent, the bot steps back, and the conversation waits for them.
@Suite(.serialized) struct AIHandOffTests {
    typealias Loop = ReplyLoopTests
    typealias AI = AIReplyTests

    @Test func whatTheAICannotAnswerIsHandedToAPerson() async throws {
        try await Loop.withStack(dispatchEnvironment: AI.groq()) { stack, _ in
            var settings = AI.aiOn()
            settings.aiHandOff = true
            settings.humanPauseMinutes = 45
            try await AI.settings(stack, settings)
            try await AI.groqFault(stack, #"{"kind":"cannot_help"}"#)
            _ = try await Loop.dm(stack, from: "cust-hard", "Can you change the colour of my custom order?")
            try await eventually("handed off") { try await AI.entries(stack, "cust-hard") == ["paused/ai/hand_off"] }
            #expect(try await Loop.outgoing(stack, to: "cust-hard").isEmpty)
            let facts = try await AccountStore(client: Database(stack.client), logger: .quiet("q")).healthFacts(accountID: stack.accountID)
            #expect(facts.waitingForYou == 1)
            // The bot stays out of it, even for a question a rule answers.
            _ = try await Loop.dm(stack, from: "cust-hard", "how much is it?")
            try await eventually("decided") { try await AI.entries(stack, "cust-hard").count == 2 }
            #expect(try await AI.entries(stack, "cust-hard").last == "skipped/-/human_active")
            #expect(try await Loop.outgoing(stack, to: "cust-hard").isEmpty)

            // When the AI can help, it answers as before.
            _ = try await Loop.dm(stack, from: "cust-easy", "Is the croissant vegan?")
            try await eventually("answered") { try await Loop.outgoing(stack, to: "cust-easy") == [AI.sandboxAnswer] }
        }
    }
}
