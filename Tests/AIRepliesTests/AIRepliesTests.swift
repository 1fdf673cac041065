import AIReplies
import FlowtalkCore
import Foundation
import NIOCore
import Testing

@Suite struct PersonalDataMaskerTests {
    @Test(arguments: [
        ("Write to me at jane.doe+shop@example.co.uk please", "Write to me at [email] please"),
        ("mail: müller@bäckerei.de", "mail: [email]"),
        ("Call +49 (0)170 123-4567 tomorrow", "Call [phone] tomorrow"),
        ("my number is 0612345678", "my number is [phone]"),
        ("٠٦١٢٣٤٥٦٧٨ اتصل بي", "[phone] اتصل بي"),
        ("ask @jane_doe.shop or @bob", "ask [handle] or [handle]"),
        ("see https://example.com/order?id=42 and www.shop.example", "see [link] and [link]"),
        ("card 4111 1111 1111 1111", "card [phone]"),
        ("account 1234-56-7890", "account [phone]"),
    ])
    func personalDataIsMasked(input: String, expected: String) {
        #expect(PersonalDataMasker.mask(input) == expected)
    }

    /// Found by fuzzing (fuzz-masker): handles were masked before numbers and in one pass, so a placeholder's "]" or
    /// a masked handle became a boundary that exposed another handle, and a combining mark on "www." hid a link.
    @Test(arguments: [
        ("call 0912345678@maria", "call [phone][handle]"),
        ("ask @maria@joao now", "ask [handle][handle] now"),
        ("mail a@b.fr@maria", "mail [email][handle]"),
        ("see www.\u{301}shop.pt or HTTPS://\u{301}x.io", "see [link] or [link]"),
    ])
    func maskingLeavesNothingASecondPassWouldFind(input: String, expected: String) {
        let masked = PersonalDataMasker.mask(input)
        #expect(masked == expected)
        #expect(PersonalDataMasker.mask(masked) == masked)
    }

    @Test(arguments: [
        "How much is the blue one? 25 EUR?",
        "Do you have size 38 or 40?",
        "Can I pick it up on 12.05.2026?",
        "I want 3 of them",
        "Hola, ¿tenéis envío a Canarias?",
    ])
    func ordinaryTextIsKept(text: String) {
        #expect(PersonalDataMasker.mask(text) == text)
    }
}

@Suite struct AIPromptTests {
    let prompt = AIPrompt(
        description: "A small bakery in Lyon.", tone: "warm, short",
        facts: [.init(topic: ["price", "how much"], answer: "A croissant is 1.20 EUR.")],
        text: "Is the croissant vegan? mail me at a@b.fr")

    @Test func theSystemPromptCarriesTheSettingsFactsAndRules() {
        let messages = prompt.messages
        #expect(messages.count == 2)
        #expect(messages[0].role == "system")
        #expect(messages[0].content.contains("A small bakery in Lyon."))
        #expect(messages[0].content.contains("Tone: warm, short"))
        #expect(messages[0].content.contains("(price, how much) A croissant is 1.20 EUR."))
        #expect(messages[0].content.contains("can_help"))
        #expect(messages[0].content.contains("Never invent prices"))
        #expect(messages[0].content.contains("language the customer wrote in"))
        #expect(messages[1] == AIPrompt.Message(role: "user", content: "Is the croissant vegan? mail me at [email]"))
    }

    @Test func memoryTurnsAreMaskedAndBounded() {
        var withMemory = prompt
        withMemory.memory = (1...5).map { AIPrompt.Turn(customer: "turn \($0) call 0612345678", business: "answer \($0)") }
        let messages = withMemory.messages
        // system + 3 remembered turns (customer + business each) + the message
        #expect(messages.count == 1 + 3 * 2 + 1)
        #expect(messages[1].content == "turn 3 call [phone]")
        #expect(messages[2].role == "assistant")
        #expect(messages[2].content == #"{"can_help":true,"reply":"answer 3"}"#)
    }

    /// Issue 13: the bot's earlier answers went to the AI provider unmasked, and they may repeat what the customer wrote.
    @Test func theBotsEarlierAnswersAreMaskedToo() {
        var withMemory = prompt
        withMemory.memory = [AIPrompt.Turn(customer: "my number?", business: "We will call you on 0612 345 678 or mail jane at gmail dot com")]
        let answer = withMemory.messages[2].content
        #expect(answer == #"{"can_help":true,"reply":"We will call you on [phone] or mail [email]"}"#)
    }

    @Test func theRequestBodyHasNoIdentifiersAndAsksForJSON() throws {
        let client = GroqClient(configuration: GroqConfiguration(baseURL: "http://127.0.0.1:1", apiKey: Secret("k"), model: "m"))
        let body = String(buffer: try client.body(for: prompt))
        let document = try JSONValue.parse(Array(body.utf8))
        #expect(document["model"]?.string == "m")
        #expect(document["response_format"]?["type"]?.string == "json_object")
        #expect(document["user"] == nil)
        #expect(document["messages"]?.array?.count == 2)
        #expect(!body.contains("a@b.fr"))
    }
}

@Suite struct AIAnswerTests {
    func completion(_ content: String) -> [UInt8] {
        var out: [UInt8] = Array(#"{"choices":[{"index":0,"message":{"role":"assistant","content":"#.utf8)
        JSONText.appendString(content, to: &out)
        out.append(contentsOf: Array(#"}}],"usage":{"prompt_tokens":120,"completion_tokens":17}}"#.utf8))
        return out
    }

    @Test func aStructuredAnswerIsRead() throws {
        let answer = try AIAnswer.parse(completion(#"{"can_help": true, "reply": " Yes, it is vegan. "}"#))
        #expect(answer == AIAnswer(canHelp: true, reply: "Yes, it is vegan.", promptTokens: 120, completionTokens: 17))
    }

    @Test func cannotHelpIsAFieldNotAWord() throws {
        #expect(try AIAnswer.parse(completion(#"{"can_help": false, "reply": ""}"#)).canHelp == false)
        // The words "cannot help" in a reply are just words.
        #expect(try AIAnswer.parse(completion(#"{"can_help": true, "reply": "We cannot help you with returns by phone, write to us here."}"#)).canHelp)
        // An empty reply that claims to help is no help.
        #expect(try AIAnswer.parse(completion(#"{"can_help": true, "reply": "  "}"#)).canHelp == false)
    }

    @Test func fencedJSONIsAccepted() throws {
        #expect(try AIAnswer.parse(completion("```json\n{\"can_help\": \"true\", \"reply\": \"Hi!\"}\n```")).reply == "Hi!")
    }

    @Test(arguments: ["Sure, it is vegan!", #"{"reply": "no flag"}"#, "", "{not json}"])
    func proseOrBrokenAnswersAreMalformed(content: String) {
        #expect(throws: AIError.malformedAnswer) { try AIAnswer.parse(completion(content)) }
    }

    @Test func aBodyWithoutChoicesIsMalformed() {
        #expect(throws: AIError.malformedAnswer) { try AIAnswer.parse(Array(#"{"error":{"message":"x"}}"#.utf8)) }
    }

    /// Found by fuzzing (fuzz-ai-answer): a negative `completion_tokens` was passed on as is, and the Prometheus token
    /// counter traps on a negative increment, so one odd provider answer would have stopped flowtalk-dispatch.
    @Test(arguments: [
        (#""prompt_tokens":412,"completion_tokens":-37"#, 412, 0), (#""prompt_tokens":-9223372036854775808"#, 0, 0),
        (#""prompt_tokens":"12","completion_tokens":1.5"#, 12, 0), (#""prompt_tokens":99999999999999999999"#, 0, 0),
    ])
    func tokenCountsAreNeverNegative(usage: String, prompt: Int, completion: Int) throws {
        let body = #"{"choices":[{"message":{"content":"{\"can_help\":true,\"reply\":\"Hi\"}"}}],"usage":{"# + usage + "}}"
        let answer = try AIAnswer.parse(Array(body.utf8))
        #expect(answer.promptTokens == prompt && answer.completionTokens == completion)
        AIMetrics().tokens(prompt: -1, completion: -5)  // and the metrics never pass a negative count on
    }
}

@Suite struct CircuitBreakerTests {
    @Test func opensAfterRepeatedFailuresAndLetsOneTrialThroughLater() {
        let breaker = CircuitBreaker(threshold: 3, openFor: .seconds(30))
        let start = NIODeadline.now()
        #expect(breaker.allow(now: start))
        #expect(!breaker.recordFailure(now: start))
        #expect(!breaker.recordFailure(now: start))
        #expect(breaker.recordFailure(now: start))
        #expect(!breaker.allow(now: start + .seconds(29)))
        // After the pause: exactly one trial call.
        #expect(breaker.allow(now: start + .seconds(31)))
        #expect(!breaker.allow(now: start + .seconds(31)))
        // The trial fails: open again at once.
        #expect(breaker.recordFailure(now: start + .seconds(31)))
        #expect(!breaker.allow(now: start + .seconds(40)))
        // The next trial succeeds: closed.
        #expect(breaker.allow(now: start + .seconds(62)))
        breaker.recordSuccess()
        #expect(breaker.state == .closed)
        #expect(breaker.allow(now: start + .seconds(62)))
    }

    @Test func aTrialWhoseOutcomeIsNeverRecordedDoesNotBlockForEver() {
        let breaker = CircuitBreaker(threshold: 1, openFor: .seconds(30))
        let start = NIODeadline.now()
        breaker.recordFailure(now: start)
        #expect(breaker.allow(now: start + .seconds(31)))  // the trial goes out… and its caller fails before recording
        #expect(!breaker.allow(now: start + .seconds(40)) && breaker.isOpen(now: start + .seconds(40)))
        #expect(breaker.allow(now: start + .seconds(62)))  // another trial after a further pause
        breaker.recordNeutral()
        #expect(breaker.state == .closed && !breaker.isOpen(now: start + .seconds(62)))
    }

    @Test func aSuccessResetsTheCount() {
        let breaker = CircuitBreaker(threshold: 2, openFor: .seconds(30))
        breaker.recordFailure()
        breaker.recordSuccess()
        breaker.recordFailure()
        #expect(breaker.state == .closed)
    }
}
