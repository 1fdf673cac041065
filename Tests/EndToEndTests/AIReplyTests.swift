import AsyncHTTPClient
import FlowtalkCore
import FlowtalkDevSupport
import FlowtalkStore
import FlowtalkTesting
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import Testing

/// The AI path over the real binaries: dispatch asks the sandbox's Groq stand-in over HTTP with the production client.
@Suite(.serialized) struct AIReplyTests {
    typealias Loop = ReplyLoopTests
    static let sandboxAnswer = "Thanks for asking! (sandbox AI answer)"
    static let fallback = "Thanks! A person from our team will answer you soon."

    static func groq(_ extra: [String: String] = [:]) -> [String: String] {
        ["GROQ_API_KEY": "gsk-test-\(UUID().uuidString)", "GROQ_BASE_URL": "{sandbox}/openai/v1", "GROQ_MODEL": "sandbox-model",
         "AI_CIRCUIT_FAILURES": "100"].merging(extra) { $1 }
    }

    static func settings(_ stack: Loop.Stack, _ settings: AccountSettings) async throws {
        try await AccountSeeder(client: stack.client, vault: stack.vault, logger: .quiet("seed")).setSettings(accountID: stack.accountID, settings)
    }

    static func aiOn(fallback: String = fallback, memory: Bool = false, budget: Int = 100) -> AccountSettings {
        AccountSettings(
            cooldownSeconds: 0, humanPauseMinutes: 60, aiEnabled: true, businessDescription: "A vegan bakery in Lyon.", aiTone: "warm",
            fallbackText: fallback, aiMemory: memory, aiDailyBudget: budget)
    }

    /// The request bodies the Groq stand-in received, in order.
    static func groqRequests(_ stack: Loop.Stack) async throws -> [String] {
        struct Log: Decodable { let requests: [String] }
        let (_, body) = try await RealBinariesTests.get("\(stack.sandbox)/simulate/groq/requests")
        return try JSONDecoder().decode(Log.self, from: Data(body.utf8)).requests
    }

    static func groqFault(_ stack: Loop.Stack, _ json: String) async throws {
        let (status, _) = try await Loop.post("\(stack.sandbox)/sandbox/groq/faults", #"{"faults":[\#(json)]}"#)
        #expect(status == .noContent)
    }

    /// (outcome, source, reason) per activity entry of a customer.
    static func entries(_ stack: Loop.Stack, _ customer: String) async throws -> [String] {
        var rows: [String] = []
        for try await (outcome, source, reason) in try await stack.client.query(
            "SELECT outcome, source, reason FROM activity WHERE customer_id = \(customer) ORDER BY id", logger: .quiet("q")
        ).decode((String, String?, String?).self) { rows.append([outcome, source ?? "-", reason ?? "-"].joined(separator: "/")) }
        return rows
    }

    static func messages(_ request: String) throws -> [(role: String, content: String)] {
        let document = try JSONValue.parse(Array(request.utf8))
        return (document["messages"]?.array ?? []).map { ($0["role"]?.string ?? "", $0["content"]?.string ?? "") }
    }

    @Test func aDMNoRuleAnswersGetsTheAIAnswerAndGroqSeesOnlyTheMaskedText() async throws {
        try await Loop.withStack(dispatchEnvironment: Self.groq()) { stack, _ in
            try await Self.settings(stack, Self.aiOn())
            let customer = "17841455500000042"
            _ = try await Loop.dm(stack, from: customer, "Do you deliver to Villeurbanne? Mail me at jane.doe@example.com or call +33 6 12 34 56 78, or ask @jane_shop")
            try await eventually("AI reply sent") { try await Loop.replyStates(stack, customer: customer) == ["sent"] }
            #expect(try await Loop.outgoing(stack, to: customer) == [Self.sandboxAnswer])
            #expect(try await Self.entries(stack, customer) == ["replied/ai/-"])

            let requests = try await Self.groqRequests(stack)
            try #require(requests.count == 1)
            let sent = try Self.messages(requests[0])
            #expect(sent.map(\.role) == ["system", "user"])
            #expect(sent[1].content == "Do you deliver to Villeurbanne? Mail me at [email] or call [phone], or ask [handle]")
            // Grounded in the business's own words: its description, tone and rule answers.
            #expect(sent[0].content.contains("A vegan bakery in Lyon.") && sent[0].content.contains("Our prices start at 10 EUR."))
            // Nothing that identifies the customer or the business's Instagram account, anywhere in the request.
            for needle in ["jane.doe@example.com", "12 34 56 78", "jane_shop", customer, Loop.shop, "\"user\":"] {
                #expect(!requests[0].contains(needle), "the Groq request contains \(needle)")
            }

            // Memory is off: a second message goes alone, without the first.
            _ = try await Loop.dm(stack, from: customer, "And on Sunday?")
            try await eventually("second AI reply") { try await Loop.replyStates(stack, customer: customer) == ["sent", "sent"] }
            let second = try Self.messages(try await Self.groqRequests(stack)[1])
            #expect(second.map(\.role) == ["system", "user"] && second[1].content == "And on Sunday?")

            // A matching DM still gets the rule, not the AI.
            _ = try await Loop.dm(stack, from: "cust-rule", "how much is it?")
            try await eventually("rule reply") { try await Loop.replyStates(stack, customer: "cust-rule") == ["sent"] }
            #expect(try await Self.groqRequests(stack).count == 2)

            // Counts and metrics.
            var counts: [String: Int64] = [:]
            for try await (metric, count) in try await stack.client.query("SELECT metric, sum(count)::int8 FROM hourly_counts GROUP BY metric")
                .decode((String, Int64).self)
            { counts[metric] = count }
            #expect(counts["replied_ai"] == 2 && counts["replied_rule"] == 1 && counts["received"] == 3)
            let port = stack.environment["PORT"] ?? ""
            let (_, metrics) = try await RealBinariesTests.get("http://127.0.0.1:\(port)/metrics")
            #expect(metrics.contains(#"flowtalk_ai_calls_total{outcome="answered"} 2"#))
            #expect(metrics.contains(#"flowtalk_ai_tokens_total{kind="completion"}"#))
            #expect(metrics.contains("flowtalk_ai_call_duration_seconds"))
            // Replies out by outcome, and the webhook→reply latency of each as a histogram (the Grafana panels use both).
            #expect(metrics.contains(#"flowtalk_replies_total{outcome="replied"} 3"#))
            #expect(metrics.contains("flowtalk_reply_latency_seconds_count 3"))
            #expect(metrics.contains(#"flowtalk_reply_latency_seconds_bucket{le="60.0"} 3"#) || metrics.contains(#"flowtalk_reply_latency_seconds_bucket{le="60"} 3"#))
        }
    }

    @Test func cannotHelpSendsTheFallbackTextOrNothingAndMemoryCarriesMaskedTurns() async throws {
        try await Loop.withStack(dispatchEnvironment: Self.groq()) { stack, _ in
            try await Self.settings(stack, Self.aiOn(memory: true))
            // The model says it cannot help: the business's fallback text goes out instead.
            try await Self.groqFault(stack, #"{"kind":"cannot_help"}"#)
            _ = try await Loop.dm(stack, from: "cust-a", "I want a refund for order 88812345")
            try await eventually("fallback sent") { try await Loop.replyStates(stack, customer: "cust-a") == ["sent"] }
            #expect(try await Loop.outgoing(stack, to: "cust-a") == [Self.fallback])
            #expect(try await Self.entries(stack, "cust-a") == ["replied/fallback/ai_cannot_help"])

            // Memory on: the next message carries the earlier turn (masked) and what the bot answered.
            _ = try await Loop.dm(stack, from: "cust-a", "Is the croissant vegan?")
            try await eventually("AI answer with memory") { try await Loop.replyStates(stack, customer: "cust-a") == ["sent", "sent"] }
            let remembered = try Self.messages(try await Self.groqRequests(stack)[1])
            #expect(remembered.map(\.role) == ["system", "user", "assistant", "user"])
            #expect(remembered[1].content == "I want a refund for order [phone]")
            #expect(remembered[2].content.contains("A person from our team"))
            // Another customer's conversation is not in it.
            _ = try await Loop.dm(stack, from: "cust-b", "Hello there")
            try await eventually("cust-b answered") { try await Loop.replyStates(stack, customer: "cust-b") == ["sent"] }
            #expect(try Self.messages(try await Self.groqRequests(stack)[2]).map(\.role) == ["system", "user"])

            // A long answer is cut to two Instagram messages, each within the 1,000-byte limit, on sentence boundaries.
            try await Self.groqFault(stack, #"{"kind":"long"}"#)
            _ = try await Loop.dm(stack, from: "cust-long", "Tell me everything")
            try await eventually("long answer sent") { try await Loop.replyStates(stack, customer: "cust-long") == ["sent"] }
            let parts = try await Loop.outgoing(stack, to: "cust-long")
            #expect(parts.count == 2 && parts.allSatisfy { $0.utf8.count <= 1000 && $0.hasSuffix(".") })
            #expect(parts.first?.hasPrefix("Sentence 1 of a long sandbox answer.") == true)

            // Without fallback text, "cannot help" sends nothing and says why.
            var noFallback = Self.aiOn(fallback: "")
            noFallback.cooldownSeconds = 600
            try await Self.settings(stack, noFallback)
            try await Self.groqFault(stack, #"{"kind":"cannot_help"}"#)
            _ = try await Loop.dm(stack, from: "cust-c", "Can you fix my order?")
            try await eventually("cust-c decided") { try await Loop.replyStates(stack, customer: "cust-c") == ["skipped"] }
            #expect(try await Self.entries(stack, "cust-c") == ["skipped/ai/ai_cannot_help"])
            #expect(try await Loop.outgoing(stack, to: "cust-c").isEmpty)
            // Nothing went out, so no cooldown started: the customer's next question, which a rule answers, is answered.
            _ = try await Loop.dm(stack, from: "cust-c", "how much is it?")
            try await eventually("cust-c's rule reply") { try await Loop.replyStates(stack, customer: "cust-c") == ["skipped", "sent"] }
            #expect(try await Loop.outgoing(stack, to: "cust-c") == ["Our prices start at 10 EUR."])
        }
    }

    @Test func timeoutRateLimitStormConversationLimitAndBudgetTakeTheirDocumentedPaths() async throws {
        let environment = Self.groq(["GROQ_TIMEOUT_SECONDS": "4", "GROQ_MAX_ATTEMPTS": "3", "AI_CONVERSATION_LIMIT": "2"])
        try await Loop.withStack(dispatchEnvironment: environment) { stack, _ in
            try await Self.settings(stack, Self.aiOn())
            // Groq answers too late: the fallback goes out once, with the reason; no retry after a timeout.
            try await Self.groqFault(stack, #"{"kind":"slow","seconds":8}"#)
            _ = try await Loop.dm(stack, from: "cust-slow", "Do you have gluten-free bread?")
            try await eventually("timeout decided") { try await Loop.replyStates(stack, customer: "cust-slow") == ["sent"] }
            #expect(try await Self.entries(stack, "cust-slow") == ["replied/fallback/ai_timeout"])
            #expect(try await Self.groqRequests(stack).count == 1)

            // A 429 storm: retried after retry-after, up to GROQ_MAX_ATTEMPTS, then the fallback with its reason.
            try await Self.groqFault(stack, #"{"kind":"rate_limit","count":3,"seconds":1}"#)
            _ = try await Loop.dm(stack, from: "cust-429", "Do you have rye bread?")
            try await eventually("429 decided") { try await Loop.replyStates(stack, customer: "cust-429") == ["sent"] }
            #expect(try await Self.entries(stack, "cust-429") == ["replied/fallback/ai_rate_limited"])
            #expect(try await Self.groqRequests(stack).count == 1 + 3)

            // A short storm that ends within the attempts: the AI's answer goes out.
            try await Self.groqFault(stack, #"{"kind":"rate_limit","count":1,"seconds":1}"#)
            _ = try await Loop.dm(stack, from: "cust-recover", "Do you have spelt bread?")
            try await eventually("recovered") { try await Loop.replyStates(stack, customer: "cust-recover") == ["sent"] }
            #expect(try await Loop.outgoing(stack, to: "cust-recover") == [Self.sandboxAnswer])
            #expect(try await Self.groqRequests(stack).count == 4 + 2)

            // Per conversation: two AI answers in 24 hours, then the bot leaves the conversation to a person.
            for text in ["first question", "second question", "third question"] { _ = try await Loop.dm(stack, from: "cust-chatty", text) }
            try await eventually("chatty decided") { try await Self.entries(stack, "cust-chatty").count == 3 }
            #expect(try await Self.entries(stack, "cust-chatty") == ["replied/ai/-", "replied/ai/-", "skipped/-/ai_conversation_limit"])
            #expect(try await Loop.outgoing(stack, to: "cust-chatty").count == 2)
            #expect(try await Self.groqRequests(stack).count == 6 + 2)

            // The daily budget counts messages that reached the AI (5 so far today; retries are not extra): a budget of 5 is spent.
            try await Self.settings(stack, AccountSettings(
                cooldownSeconds: 0, aiEnabled: true, businessDescription: "A vegan bakery in Lyon.", fallbackText: Self.fallback, aiDailyBudget: 5))
            // Instagram refuses the fallback once (rate limit): it is sent again as it was, without asking the AI.
            let (faultStatus, _) = try await Loop.post(
                "\(stack.sandbox)/sandbox/faults", #"{"ig_id":"\#(Loop.shop)","faults":[{"kind":"rate_limit","count":1}]}"#)
            #expect(faultStatus == .noContent)
            _ = try await Loop.dm(stack, from: "cust-budget", "Any croissants left?")
            try await eventually("budget decided") { try await Loop.replyStates(stack, customer: "cust-budget") == ["sent"] }
            #expect(try await Loop.outgoing(stack, to: "cust-budget") == [Self.fallback])
            #expect(try await Self.entries(stack, "cust-budget") == ["replied/fallback/ai_budget_exhausted"])
            #expect(try await Self.groqRequests(stack).count == 8)

            // Never a second reply to any of these messages, and the budget's counter says what was called.
            try await Task.sleep(for: .milliseconds(500))
            for customer in ["cust-slow", "cust-429", "cust-recover", "cust-budget"] {
                #expect(try await Loop.outgoing(stack, to: customer).count == 1, "\(customer)")
            }
            for try await calls in try await stack.client.query("SELECT calls FROM ai_usage").decode(Int.self) { #expect(calls == 5) }
        }
    }

    @Test func afterRepeatedFailuresTheCircuitBreakerStopsCalling() async throws {
        let environment = Self.groq(["GROQ_MAX_ATTEMPTS": "1", "AI_CIRCUIT_FAILURES": "2", "AI_CIRCUIT_OPEN_SECONDS": "600"])
        try await Loop.withStack(dispatchEnvironment: environment) { stack, _ in
            try await Self.settings(stack, Self.aiOn())
            try await Self.groqFault(stack, #"{"kind":"server_error","count":2}"#)
            for (index, customer) in ["cust-1", "cust-2", "cust-3"].enumerated() {
                _ = try await Loop.dm(stack, from: customer, "question \(index)")
                try await eventually("\(customer) decided") { try await Loop.replyStates(stack, customer: customer) == ["sent"] }
            }
            #expect(try await Self.entries(stack, "cust-1") == ["replied/fallback/ai_server_error"])
            #expect(try await Self.entries(stack, "cust-2") == ["replied/fallback/ai_server_error"])
            #expect(try await Self.entries(stack, "cust-3") == ["replied/fallback/ai_circuit_open"])
            #expect(try await Self.groqRequests(stack).count == 2)
        }
    }

    @Test func withAIOffOrNoKeyNothingIsSentToGroq() async throws {
        // A key, but the business has AI off.
        try await Loop.withStack(dispatchEnvironment: Self.groq()) { stack, _ in
            var off = Self.aiOn()
            off.aiEnabled = false
            try await Self.settings(stack, off)
            _ = try await Loop.dm(stack, from: "cust-off", "Do you deliver?")
            try await eventually("decided") { try await Self.entries(stack, "cust-off").count == 1 }
            #expect(try await Self.entries(stack, "cust-off") == ["skipped/-/no_rule"])
            #expect(try await Self.groqRequests(stack).isEmpty)
        }
        // AI on, but no key configured: the sandbox still answers Groq calls, so zero calls means none were made.
        try await Loop.withStack(dispatchEnvironment: ["GROQ_BASE_URL": "{sandbox}/openai/v1"]) { stack, _ in
            try await Self.settings(stack, Self.aiOn())
            _ = try await Loop.dm(stack, from: "cust-nokey", "Do you deliver?")
            try await eventually("decided") { try await Self.entries(stack, "cust-nokey").count == 1 }
            #expect(try await Self.entries(stack, "cust-nokey") == ["skipped/-/ai_not_configured"])
            #expect(try await Self.groqRequests(stack).isEmpty)
            #expect(try await Loop.outgoing(stack, to: "cust-nokey").isEmpty)
        }
    }
}
