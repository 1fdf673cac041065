import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import SandboxService

/// The Groq stand-in: its chat completions and the faults `POST /sandbox/groq/faults` queues.
struct GroqTests {
    struct Completion: Decodable {
        struct Choice: Decodable {
            struct Message: Decodable {
                let role: String
                let content: String
            }
            let message: Message
            let finish_reason: String
        }
        struct Usage: Decodable {
            let prompt_tokens: Int
            let completion_tokens: Int
            let total_tokens: Int
        }
        let object: String
        let choices: [Choice]
        let usage: Usage
    }

    struct Reply: Decodable, Equatable {
        let can_help: Bool
        let reply: String
    }

    struct APIError: Decodable {
        struct Detail: Decodable {
            let message: String
            let type: String
            let code: String?
        }
        let error: Detail
    }

    static let prompt = #"{"model":"sandbox-model","messages":[{"role":"system","content":"You answer for a shop."},{"role":"user","content":"Is the mug dishwasher safe?"}]}"#

    func complete(_ client: some TestClientProtocol, _ body: String = prompt, key: String? = "gsk-test") async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[.authorization] = "Bearer \(key)" }
        return try await client.execute(uri: "/openai/v1/chat/completions", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    func content(_ response: TestResponse) throws -> String {
        let completion = try Sandbox.decode(Completion.self, response.body)
        #expect(completion.object == "chat.completion" && completion.choices.first?.message.role == "assistant")
        return try #require(completion.choices.first?.message.content)
    }

    func reply(_ response: TestResponse) throws -> Reply { try JSONDecoder().decode(Reply.self, from: Data(try content(response).utf8)) }

    func queue(_ client: some TestClientProtocol, _ faults: String) async throws {
        let response = try await client.execute(
            uri: "/sandbox/groq/faults", method: .post, headers: Sandbox.json, body: ByteBuffer(string: #"{"faults":[\#(faults)]}"#))
        #expect(response.status == .noContent)
    }

    @Test func aCompletionAnswersTheStructuredReplyAndIsKept() async throws {
        try await Sandbox.app().test(.router) { client in
            let response = try await complete(client)
            #expect(response.status == .ok)
            #expect(try reply(response) == Reply(can_help: true, reply: "Thanks for asking! (sandbox AI answer)"))
            let usage = try Sandbox.decode(Completion.self, response.body).usage
            #expect(usage.prompt_tokens == 10 && usage.total_tokens == usage.prompt_tokens + usage.completion_tokens)
            struct Log: Decodable { let requests: [String] }
            let log = try Sandbox.decode(Log.self, try await client.execute(uri: "/simulate/groq/requests", method: .get).body)
            #expect(log.requests == [Self.prompt])
        }
    }

    @Test func aCompletionWithoutAKeyOrAPromptIsRefused() async throws {
        try await Sandbox.app().test(.router) { client in
            let unauthorized = try await complete(client, key: nil)
            #expect(unauthorized.status == .unauthorized)
            #expect(try Sandbox.decode(APIError.self, unauthorized.body).error.code == "invalid_api_key")
            for body in [#"{"messages":[{"role":"user","content":"hi"}]}"#, #"{"model":"m","messages":[]}"#, "not json"] {
                let refused = try await complete(client, body)
                #expect(refused.status == .badRequest)
                #expect(try Sandbox.decode(APIError.self, refused.body).error.type == "invalid_request_error")
            }
        }
    }

    @Test func eachFaultAnswersItsWayOnce() async throws {
        try await Sandbox.app().test(.router) { client in
            try await queue(client, #"{"kind":"cannot_help"}"#)
            #expect(try reply(try await complete(client)) == Reply(can_help: false, reply: ""))

            try await queue(client, #"{"kind":"rate_limit","seconds":2}"#)
            let limited = try await complete(client)
            #expect(limited.status == .tooManyRequests && limited.headers[.retryAfter] == "2")
            #expect(try Sandbox.decode(APIError.self, limited.body).error.code == "rate_limit_exceeded")

            try await queue(client, #"{"kind":"rate_limit"}"#)
            #expect(try await complete(client).headers[.retryAfter] == "1")

            try await queue(client, #"{"kind":"server_error"}"#)
            let unavailable = try await complete(client)
            #expect(unavailable.status == .serviceUnavailable)
            #expect(try Sandbox.decode(APIError.self, unavailable.body).error.type == "internal_server_error")

            try await queue(client, #"{"kind":"malformed"}"#)
            let prose = try content(try await complete(client))
            #expect(prose == "Sure! We can help you with that.")

            try await queue(client, #"{"kind":"long"}"#)
            let long = try reply(try await complete(client))
            #expect(long.can_help && long.reply.utf8.count > 2_000 && long.reply.hasPrefix("Sentence 1 of a long sandbox answer."))

            try await queue(client, #"{"kind":"slow","seconds":1}"#)
            let clock = ContinuousClock()
            let start = clock.now
            #expect(try reply(try await complete(client)).can_help)
            #expect(clock.now - start >= .seconds(1))

            // Each applied once: the next completion is the plain answer again.
            #expect(try reply(try await complete(client)) == Reply(can_help: true, reply: "Thanks for asking! (sandbox AI answer)"))
            struct Report: Decodable { let applied: [String: Int] }
            let applied = try Sandbox.decode(Report.self, try await client.execute(uri: "/sandbox/faults", method: .get).body).applied
            #expect(applied == ["groq.cannot_help": 1, "groq.rate_limit": 2, "groq.server_error": 1, "groq.malformed": 1, "groq.long": 1, "groq.slow": 1])
        }
    }
}
