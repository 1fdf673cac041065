import AsyncHTTPClient
import FlowtalkCore
import Foundation
import Logging
import Tracing
import NIOCore
import NIOHTTP1

/// Where the AI provider is and how long to wait for it (`GROQ_*`). No key means AI replies are off.
package struct GroqConfiguration: Sendable {
    package static let defaultBaseURL = "https://api.groq.com/openai/v1"
    package static let defaultModel = "llama-3.3-70b-versatile"

    /// `GROQ_BASE_URL`: the OpenAI-compatible API root (the path `/chat/completions` is added).
    package var baseURL: String
    /// `GROQ_API_KEY`.
    package var apiKey: Secret<String>
    /// `GROQ_MODEL`.
    package var model: String
    /// `GROQ_TIMEOUT_SECONDS`: the hard limit for one answer, retries included.
    package var timeout: TimeAmount
    /// `GROQ_MAX_ATTEMPTS`: calls per answer at most (the first and its retries on 429/5xx).
    package var maxAttempts: Int
    /// The longest answer asked for, in tokens.
    package var maxTokens: Int = 300
    /// The first retry's delay when the provider gives no `retry-after`; doubled each time, with jitter.
    package var retryBase: TimeAmount = .milliseconds(500)

    package init(baseURL: String = defaultBaseURL, apiKey: Secret<String>, model: String = defaultModel, timeout: TimeAmount = .seconds(15),
                 maxAttempts: Int = 3) {
        self.baseURL = baseURL
        self.apiKey = apiKey
        self.model = model
        self.timeout = timeout
        self.maxAttempts = maxAttempts
    }

    /// The configuration from the environment, or nil when `GROQ_API_KEY` is unset (AI replies off).
    package static func fromEnvironment(_ environment: ConfigEnvironment) throws -> GroqConfiguration? {
        let baseURL = try environment.url("GROQ_BASE_URL", default: defaultBaseURL)
        let model = environment.optional("GROQ_MODEL") ?? defaultModel
        guard model.utf8.count <= 200, !model.contains(where: { $0.isWhitespace }) else {
            throw ConfigurationError.malformed("GROQ_MODEL", "expected a model name such as \(defaultModel)")
        }
        let timeout = try environment.int("GROQ_TIMEOUT_SECONDS", default: 15, range: 1...120)
        let attempts = try environment.int("GROQ_MAX_ATTEMPTS", default: 3, range: 1...6)
        guard let key = environment.optional("GROQ_API_KEY") else { return nil }
        return GroqConfiguration(baseURL: baseURL, apiKey: Secret(key), model: model, timeout: .seconds(Int64(timeout)), maxAttempts: attempts)
    }
}

/// A client for Groq's OpenAI-compatible chat-completions API over AsyncHTTPClient: a hard deadline for the whole
/// answer, bounded retries on 429 and 5xx that never come sooner than `retry-after`, and errors mapped to reasons.
/// It never logs the key, the prompt or the answer.
package struct GroqClient: Sendable {
    package let configuration: GroqConfiguration
    let http: HTTPClient

    package init(configuration: GroqConfiguration, http: HTTPClient = .outbound) {
        self.configuration = configuration
        self.http = http
    }

    struct RequestBody: Encodable {
        struct ResponseFormat: Encodable { let type: String }
        let model: String
        let messages: [AIPrompt.Message]
        let temperature: Double
        let max_tokens: Int
        let response_format: ResponseFormat
    }

    /// The request body for a prompt: the model, the messages and the output format; no user id or metadata.
    package func body(for prompt: AIPrompt) throws -> ByteBuffer {
        let body = RequestBody(
            model: configuration.model, messages: prompt.messages, temperature: 0.2, max_tokens: configuration.maxTokens,
            response_format: .init(type: "json_object"))
        return ByteBuffer(bytes: try JSONEncoder().encode(body))
    }

    /// Asks for an answer; throws an `AIError` when none came.
    package func complete(_ prompt: AIPrompt, logger: Logger) async throws(AIError) -> AIAnswer {
        let deadline = NIODeadline.now() + configuration.timeout
        let payload: ByteBuffer
        do { payload = try body(for: prompt) } catch { throw .rejected(status: 0) }
        var request = HTTPClientRequest(url: configuration.baseURL + "/chat/completions")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(configuration.apiKey.value)")
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "application/json")

        var lastError = AIError.unreachable
        for attempt in 1...configuration.maxAttempts {
            var wait: TimeAmount
            request.body = .bytes(payload)
            do {
                let (status, retryAfter, body) = try await exchange(request, deadline: deadline)
                switch status {
                case 200..<300:
                    var answer = try AIAnswer.parse(body)
                    answer.attempts = attempt
                    return answer
                case 429:
                    lastError = .rateLimited
                    // Groq sends `retry-after` in seconds; never come back sooner than it says.
                    wait = retryAfter.map { .nanoseconds(Int64($0 * 1_000_000_000)) } ?? backoff(attempt)
                case 401, 403:
                    throw AIError.unauthorized
                case 500...:
                    lastError = .serverError(status: status)
                    wait = retryAfter.map { .nanoseconds(Int64($0 * 1_000_000_000)) } ?? backoff(attempt)
                default:
                    throw AIError.rejected(status: status)
                }
            } catch let error as AIError {
                if error == .timeout || !error.isOutage { throw error }
                lastError = error
                wait = backoff(attempt)
            } catch {
                lastError = .unreachable
                wait = backoff(attempt)
            }
            guard attempt < configuration.maxAttempts else { break }
            // A retry that could not finish before the deadline is not worth starting.
            guard NIODeadline.now() + wait < deadline else { break }
            logger.notice("AI provider will be retried", metadata: ["ai.reason": "\(lastError.reason)", "ai.attempt": "\(attempt)"])
            do { try await Task.sleep(for: .nanoseconds(wait.nanoseconds)) } catch { throw lastError }
        }
        throw lastError
    }

    /// One HTTP exchange bounded by the deadline, body included.
    /// A client span per attempt (`groq.chat_completion`: the model and the status, never the prompt or the answer).
    private func exchange(_ request: HTTPClientRequest, deadline: NIODeadline) async throws -> (Int, Double?, [UInt8]) {
        try await withSpan("groq.chat_completion", ofKind: .client) { span in
            span.attributes["gen_ai.system"] = "groq"
            span.attributes["gen_ai.request.model"] = configuration.model
            let result = try await timedExchange(request, deadline: deadline)
            span.attributes["http.response.status_code"] = result.0
            if result.0 >= 400 { span.setStatus(SpanStatus(code: .error)) }
            return result
        }
    }

    private func timedExchange(_ request: HTTPClientRequest, deadline: NIODeadline) async throws -> (Int, Double?, [UInt8]) {
        let remaining = deadline - .now()
        guard remaining > .zero else { throw AIError.timeout }
        let http = self.http
        return try await withThrowingTaskGroup(of: (Int, Double?, [UInt8])?.self) { group in
            group.addTask {
                let response = try await http.execute(request, deadline: deadline)
                let body = try await response.body.collect(upTo: 1 << 20)
                let retryAfter = response.headers.first(name: "retry-after").flatMap { Double($0.trimmingCharacters(in: .whitespaces)) }
                return (Int(response.status.code), retryAfter.map { max(0, $0) }, Array(buffer: body))
            }
            group.addTask {
                try await Task.sleep(for: .nanoseconds(remaining.nanoseconds))
                return nil
            }
            defer { group.cancelAll() }
            do {
                guard let first = try await group.next(), let result = first else { throw AIError.timeout }
                return result
            } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
                throw AIError.timeout
            }
        }
    }

    private func backoff(_ attempt: Int) -> TimeAmount {
        let base = configuration.retryBase.nanoseconds * Int64(1 << min(attempt - 1, 6))
        return .nanoseconds(base / 2 + Int64.random(in: 0...max(1, base / 2)))
    }
}
