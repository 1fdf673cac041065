import FlowtalkCore
import Foundation

/// Why no answer came from the AI provider. `reason` is what the activity log shows.
package enum AIError: Error, Equatable, Sendable {
    /// No answer within `GROQ_TIMEOUT_SECONDS`.
    case timeout
    /// 429 on every attempt, or a `retry-after` beyond the time left.
    case rateLimited
    /// 5xx on every attempt.
    case serverError(status: Int)
    /// The connection could not be made or broke.
    case unreachable
    /// 401/403: the key is wrong or revoked.
    case unauthorized
    /// Another 4xx: the request was refused (model name, size).
    case rejected(status: Int)
    /// 200, but not the JSON answer the prompt asks for.
    case malformedAnswer

    package var reason: String {
        switch self {
        case .timeout: "ai_timeout"
        case .rateLimited: "ai_rate_limited"
        case .serverError: "ai_server_error"
        case .unreachable: "ai_unreachable"
        case .unauthorized: "ai_auth_failed"
        case .rejected: "ai_rejected"
        case .malformedAnswer: "ai_malformed_answer"
        }
    }

    /// Failures that say the provider is unwell (they open the circuit breaker); the others are about one request.
    package var isOutage: Bool {
        switch self {
        case .timeout, .rateLimited, .serverError, .unreachable: true
        case .unauthorized, .rejected, .malformedAnswer: false
        }
    }
}

/// The model's structured answer.
package struct AIAnswer: Sendable, Equatable {
    /// False when the model says the facts do not answer the message.
    package var canHelp: Bool
    package var reply: String
    package var promptTokens: Int
    package var completionTokens: Int
    /// HTTP calls made (1 when the first one answered).
    package var attempts: Int

    package init(canHelp: Bool, reply: String, promptTokens: Int = 0, completionTokens: Int = 0, attempts: Int = 1) {
        self.canHelp = canHelp
        self.reply = reply
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.attempts = attempts
    }

    /// Reads a chat-completions response body: the first choice's content must be the JSON object the prompt asks for.
    package static func parse(_ body: [UInt8]) throws(AIError) -> AIAnswer {
        guard let document = try? JSONValue.parse(body), let content = document["choices"]?.array?.first?["message"]?["content"]?.string else {
            throw .malformedAnswer
        }
        guard var answer = parseContent(content) else { throw .malformedAnswer }
        // Token counts feed Prometheus counters, which trap on a negative increment: anything but a count reads as 0.
        func count(_ key: String) -> Int { document["usage"]?[key]?.integerText.flatMap { Int($0) }.map { max($0, 0) } ?? 0 }
        answer.promptTokens = count("prompt_tokens")
        answer.completionTokens = count("completion_tokens")
        return answer
    }

    /// The `{"can_help": …, "reply": …}` object, also when a model wraps it in a code fence or adds words around it.
    package static func parseContent(_ content: String) -> AIAnswer? {
        guard let open = content.firstIndex(of: "{"), let close = content.lastIndex(of: "}"), open < close,
            let object = try? JSONValue.parse(Array(content[open...close].utf8))
        else { return nil }
        let canHelp: Bool
        if let flag = object["can_help"]?.bool {
            canHelp = flag
        } else if let text = object["can_help"]?.string?.lowercased(), text == "true" || text == "false" {
            canHelp = text == "true"
        } else {
            return nil
        }
        let reply = (object["reply"]?.string ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        return AIAnswer(canHelp: canHelp && !reply.isEmpty, reply: canHelp ? reply : "")
    }
}
