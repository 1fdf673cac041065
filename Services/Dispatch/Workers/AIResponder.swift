import AIReplies
import FlowtalkStore
import Foundation
import InstagramGraph
import Logging
import NIOCore
import ReplyRules

/// The AI path of dispatch: builds the prompt from the business's settings and rules, asks Groq, and says what to send.
/// Limits (daily budget, per-conversation) are reserved by the caller in its decision transaction; the circuit breaker
/// lives here, one per process.
struct AIResponder: Sendable {
    /// Nil when `GROQ_API_KEY` is unset: AI replies are off whatever the settings say.
    let client: GroqClient?
    let store: DispatchStores
    let breaker: CircuitBreaker
    let metrics: AIMetrics
    /// AI answers per conversation within 24 hours.
    let conversationLimit: Int
    /// Memory: how far back, and how many exchanges.
    static let memoryMinutes = 60
    static let memoryTurns = 3
    /// The longest AI answer sent, in Instagram messages.
    static let maximumParts = 2

    enum Result: Equatable {
        case answer(String)
        /// No AI answer; the reason code goes to the activity log.
        case declined(String)
    }

    var available: Bool { client != nil }

    /// Asks the provider for an answer to `text`. Only the masked text, the business's own settings and rule answers,
    /// and (memory on) the customer's last masked turns are sent — no id, username or name.
    func answer(text: String, accountID: UUID, customerID: String, settings: AccountSettings, logger: Logger) async throws -> Result {
        guard let client else { return .declined("ai_not_configured") }
        // Turned off since this message was taken for the AI (a resumed reply): no call.
        guard settings.aiEnabled else { return .declined("ai_disabled") }
        let facts = try await store.automation.replyRules(accountID: accountID).filter(\.enabled).sorted { $0.priority > $1.priority }.map {
            AIPrompt.Fact(topic: $0.keywords, answer: ReplyTemplate.render($0.reply, username: nil))
        }
        var memory: [AIPrompt.Turn] = []
        if settings.aiMemory {
            memory = try await store.activity.recentTurns(accountID: accountID, customerID: customerID, minutes: Self.memoryMinutes, limit: Self.memoryTurns)
                .map { AIPrompt.Turn(customer: Self.wholeWords($0.customer), business: $0.business.map(Self.wholeWords)) }
        }
        // Asked only now, right before the call: a trial taken in half-open state is always followed by its outcome.
        guard breaker.allow() else {
            metrics.failure(reason: "ai_circuit_open")
            return .declined("ai_circuit_open")
        }
        let prompt = AIPrompt(description: settings.businessDescription, tone: settings.aiTone, facts: facts, memory: memory, text: text)
        let started = ContinuousClock.now
        func seconds() -> Double {
            let elapsed = ContinuousClock.now - started
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        }
        do {
            let answer = try await client.complete(prompt, logger: logger)
            breaker.recordSuccess()
            metrics.tokens(prompt: answer.promptTokens, completion: answer.completionTokens)
            guard answer.canHelp else {
                metrics.call(outcome: "cannot_help", seconds: seconds())
                return .declined("ai_cannot_help")
            }
            metrics.call(outcome: "answered", seconds: seconds())
            return .answer(Self.trim(answer.reply))
        } catch {
            metrics.call(outcome: "failed", seconds: seconds())
            metrics.failure(reason: error.reason)
            if error.isOutage {
                if breaker.recordFailure() { logger.warning("AI provider failing: pausing AI calls", metadata: ["ai.reason": "\(error.reason)"]) }
            } else {
                breaker.recordNeutral()
            }
            logger.notice("No AI answer", metadata: ["ai.reason": "\(error.reason)"])
            return .declined(error.reason)
        }
    }

    /// The activity log keeps 80 characters: a summary that long may end inside a word (half an email address that the
    /// masker would no longer recognise), so the cut word is dropped before the text is masked and sent.
    static func wholeWords(_ summary: String) -> String {
        guard summary.count >= ActivityEntry.summaryLength, let space = summary.lastIndex(where: \.isWhitespace) else {
            return summary.count >= ActivityEntry.summaryLength ? "" : summary
        }
        return String(summary[..<space])
    }

    /// An answer cut to what fits in `maximumParts` Instagram messages, on sentence or word boundaries.
    static func trim(_ reply: String) -> String {
        GraphClient.split(reply.trimmingCharacters(in: .whitespacesAndNewlines)).prefix(maximumParts).joined(separator: " ")
    }
}
