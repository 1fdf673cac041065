import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Groq's OpenAI-compatible chat completions (`POST /openai/v1/chat/completions`): a structured JSON answer
/// (`{"can_help","reply"}`) unless a fault queued with `POST /sandbox/groq/faults` says otherwise. Every request body
/// is kept for inspection (`GET /simulate/groq/requests`).
struct GroqRoutes: Sendable {
    let state: SandboxState

    /// The part of a chat request the sandbox reads. A message whose `content` is not a string counts as empty.
    struct ChatRequest: Decodable {
        struct Message: Decodable {
            let content: String?

            enum CodingKeys: String, CodingKey { case content }
            init(from decoder: any Decoder) throws {
                content = try? decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(String.self, forKey: .content)
            }
        }
        let model: String
        let messages: [Message]
    }

    /// What the prompt asks the model to write, as the content of its answer.
    struct ReplyContent: Encodable {
        let can_help: Bool
        let reply: String
    }

    struct Completion: Encodable {
        struct Message: Encodable {
            var role = "assistant"
            let content: String
        }
        struct Choice: Encodable {
            var index = 0
            let message: Message
            var finish_reason = "stop"
        }
        struct Usage: Encodable {
            let prompt_tokens: Int
            let completion_tokens: Int
            let total_tokens: Int
        }
        var id = "chatcmpl-sandbox"
        var object = "chat.completion"
        var model = "sandbox"
        let choices: [Choice]
        let usage: Usage
    }

    /// OpenAI's error envelope: `{"error":{"message","type","code"?}}`.
    struct APIError: Encodable {
        struct Detail: Encodable {
            let message: String
            let type: String
            let code: String?
        }
        let error: Detail

        static func response(_ status: HTTPResponse.Status, _ message: String, type: String, code: String? = nil, headers: HTTPFields = [:]) throws
            -> Response
        {
            try SandboxJSON.response(APIError(error: Detail(message: message, type: type, code: code)), status: status, headers: headers)
        }
    }

    struct RequestLog: Encodable { let requests: [String] }

    static let answer = ReplyContent(can_help: true, reply: "Thanks for asking! (sandbox AI answer)")

    func add(to router: Router<SandboxRequestContext>) {
        router.post("/openai/v1/chat/completions") { request, _ -> Response in try await complete(request) }
        // Faults for the next chat completions: cannot_help, rate_limit (429 with retry-after `seconds`, default 1),
        // server_error (503), slow (`seconds` before answering), malformed (prose instead of JSON), long (~3,000 bytes).
        router.post("/sandbox/groq/faults") { request, context -> Response in
            struct Body: Decodable { let faults: [GroqFault] }
            let body = try await request.decode(as: Body.self, context: context)
            await state.addGroqFaults(body.faults)
            return Response(status: .noContent)
        }
        router.get("/simulate/groq/requests") { _, _ -> Response in try SandboxJSON.response(RequestLog(requests: await state.groqLog)) }
    }

    func complete(_ request: Request) async throws -> Response {
        guard request.headers[.authorization]?.hasPrefix("Bearer ") == true else {
            return try APIError.response(.unauthorized, "Invalid API Key", type: "invalid_request_error", code: "invalid_api_key")
        }
        var request = request
        let body = try await request.collectBody(upTo: 256 * 1024)
        await state.recordGroq(String(buffer: body))
        guard let chat = SandboxJSON.decode(ChatRequest.self, from: body), !chat.model.isEmpty, !chat.messages.isEmpty else {
            return try APIError.response(.badRequest, "'model' and 'messages' are required", type: "invalid_request_error")
        }
        let fault = await state.nextGroqFault()
        var content = String(decoding: try SandboxJSON.encode(Self.answer), as: UTF8.self)
        switch fault?.kind {
        case .rateLimit?:
            return try APIError.response(
                .tooManyRequests, "Rate limit reached for model. Please try again later.", type: "tokens", code: "rate_limit_exceeded",
                headers: [.retryAfter: "\(fault?.seconds ?? 1)"])
        case .serverError?:
            return try APIError.response(.serviceUnavailable, "Service Unavailable", type: "internal_server_error")
        case .slow?:
            try await Task.sleep(for: .seconds(fault?.seconds ?? 30))
        case .cannotHelp?:
            content = String(decoding: try SandboxJSON.encode(ReplyContent(can_help: false, reply: "")), as: UTF8.self)
        case .malformed?:
            content = "Sure! We can help you with that."
        case .long?:
            let long = (1...60).map { "Sentence \($0) of a long sandbox answer." }.joined(separator: " ")
            content = String(decoding: try SandboxJSON.encode(ReplyContent(can_help: true, reply: long)), as: UTF8.self)
        case nil:
            break
        }
        let prompt = chat.messages.compactMap(\.content).reduce(0) { $0 + $1.split(separator: " ").count }
        let completion = content.split(separator: " ").count
        return try SandboxJSON.response(
            Completion(
                choices: [.init(message: .init(content: content))],
                usage: .init(prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion)))
    }
}
