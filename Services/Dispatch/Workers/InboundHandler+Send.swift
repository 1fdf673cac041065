import AIReplies
import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import Foundation
import InstagramGraph
import Logging
import NIOCore
import ReplyDecision
import ReplyRules

extension InboundHandler {
    // MARK: AI

    /// Whether to ask the AI for a message no rule answers, inside the decision transaction: the limits are checked and
    /// counted there, so two workers cannot both take the last call of a budget.
    func aiDecision(settings: AccountSettings, accountID: UUID, customer: String, on db: DatabaseConnection) async throws -> ReplyLedger.Decision {
        func fallbackOrSkip(_ reason: ActivityReason) async throws -> ReplyLedger.Decision {
            ai.metrics.failure(reason: reason.rawValue)
            guard !settings.fallbackText.isEmpty else { return .skip(reason) }
            // The fallback is one answer like a rule's: not sent to the same customer twice within the cooldown.
            if settings.cooldownSeconds > 0, let last = try await store.conversations.lastAnswered(
                accountID: accountID, customerID: customer, answerKey: "fallback", on: db),
                Date().timeIntervalSince(last) < Double(settings.cooldownSeconds)
            { return .skip(.cooldown) }
            return .reply(ReplyPlan(text: settings.fallbackText, source: "fallback", note: reason.rawValue))
        }
        guard ai.available else { return .skip(.aiNotConfigured) }
        if ai.breaker.isOpen() { return try await fallbackOrSkip(.aiCircuitOpen) }
        switch try await store.conversations.reserveAICall(
            accountID: accountID, customerID: customer, dailyBudget: settings.aiDailyBudget, conversationLimit: ai.conversationLimit, on: db)
        {
        case .granted: return .ai([])  // the caller adds the greetings due
        case .budgetExhausted: return try await fallbackOrSkip(.aiBudgetExhausted)
        case .conversationLimit:
            // The bot has said enough in this conversation today: a person should take it from here, so nothing is sent.
            ai.metrics.failure(reason: ActivityReason.aiConversationLimit.rawValue)
            return .skip(.aiConversationLimit)
        }
    }

    /// Asks the AI for a `pending` reply and sends its answer, the fallback text, or nothing — after the greetings the
    /// reply was decided with that have not gone out yet (alone, when there is no answer).
    func answerWithAI(
        replyID: Int64, _ event: InboundEvent, _ subject: ReplyLedger.Subject, _ connection: ConnectionRecord, settings known: AccountSettings? = nil,
        greetings: Pending, job: ClaimedJob, logger: Logger
    ) async throws {
        // A fresh decision passes the settings it just read; a resumed reply reads them again (they may have changed).
        let settings = if let known { known } else { try await store.automation.accountSettings(accountID: connection.accountID) }
        let result = try await ai.answer(
            text: subject.summary ?? "", accountID: connection.accountID, customerID: subject.customerID, settings: settings, logger: logger)
        var answer: ReplyPlan?
        var skipReason: String?
        var handOff: Int?
        switch result {
        case .answer(let reply):
            answer = ReplyPlan(text: reply, source: "ai")
        case .declined(let reason) where reason == ActivityReason.aiCannotHelp.rawValue && settings.aiHandOff:
            // The account hands what the AI cannot answer to a person: no fallback; the conversation waits for them.
            handOff = settings.humanPauseMinutes > 0 ? settings.humanPauseMinutes : 60
        case .declined(let reason) where !settings.fallbackText.isEmpty:
            if settings.cooldownSeconds > 0, let last = try await store.conversations.lastAnswered(
                accountID: connection.accountID, customerID: subject.customerID, answerKey: "fallback"),
                Date().timeIntervalSince(last) < Double(settings.cooldownSeconds)
            {
                // The fallback went to this customer a moment ago: not again (the conversation's jobs run one at a time).
                skipReason = ActivityReason.cooldown.rawValue
            } else {
                answer = ReplyPlan(text: settings.fallbackText, source: "fallback", note: reason)
            }
        case .declined(let reason):
            skipReason = reason
        }
        guard var plan = try await withGreetings(answer, greetings, subject, connection, settings: settings) else {
            if let handOff {
                try await ledger.handOff(replyID, minutes: handOff, subject)
                logger.info("Conversation handed to a person: the AI could not help")
            } else {
                try await ledger.skip(replyID, from: .pending, reason: skipReason ?? ActivityReason.aiCannotHelp.rawValue, source: "ai", subject)
            }
            return
        }
        // Greetings alone before a hand-off: the hand-off comes with them.
        if let handOff { plan.handOffMinutes = handOff }
        // Only one run gets from pending to sending: the send below happens once.
        let name = await username(for: [plan.source == "ai" ? nil : plan.text] + plan.greetings.map(\.text), subject.customerID, connection)
        try await ledger.startSending(replyID, plan: plan)
        try await send(plan, username: name, replyID: replyID, event, subject, connection, job: job, logger: logger)
    }

    // MARK: Sending

    /// The customer's Instagram username when one of `texts` greets them by name (`{username}`), else nil. Read before
    /// a reply is committed `sending`: a lookup still running when the process died would leave a reply that never went
    /// out marked as maybe sent. At most 3 s; never stored.
    func username(for texts: [String?], _ customer: String, _ connection: ConnectionRecord) async -> String? {
        guard texts.contains(where: { $0?.contains("{username}") == true }),
            let token = try? vault.open(connection.tokenSealed, for: connection.owner)
        else { return nil }
        return await sender.customerUsername(customer, token: token, timeout: .seconds(3))
    }

    /// Sends a reply that is `sending` and records what came of it.
    func send(
        _ plan: ReplyPlan, username: String?, replyID: Int64, _ event: InboundEvent, _ subject: ReplyLedger.Subject, _ connection: ConnectionRecord,
        job: ClaimedJob, logger: Logger
    ) async throws {
        // An AI answer is sent as written; rule, Ice Breaker and fallback answers may hold {username}, filled with the
        // name read before the reply was committed. The activity log keeps the answer without the name: it is never stored.
        // Greetings are the business's own texts, like a rule's. The log keeps the answer (or the greetings, when alone).
        let answer = plan.text.isEmpty ? plan.greetings.map(\.text).joined(separator: "\n") : plan.text
        let logged = plan.source == "ai" ? answer : ReplyTemplate.render(answer, username: nil)
        let texts = plan.greetings.map { ReplyTemplate.render($0.text, username: username) }
            + (plan.text.isEmpty ? [] : [plan.source == "ai" ? plan.text : ReplyTemplate.render(plan.text, username: username)])
        let outgoing = plan.outgoingOptions.map { MessageOption(title: $0.title, payload: $0.payload) }
        let options: MessageOptions? = outgoing.isEmpty ? nil : plan.optionKind == .buttons ? .buttons(outgoing) : .quickReplies(outgoing)
        func finish(
            _ state: ReplyState, _ outcome: ActivityOutcome, reason: String?, counts: [String], sent: [String] = [], delivered: [String]? = nil
        ) async throws {
            let latency = Int(Date().timeIntervalSince1970 * 1000 - Double(event.receivedAtMs))
            try await ledger.finish(
                replyID, state: state, outcome: outcome, reason: reason, plan: plan, sentText: logged, messageIDs: sent, counts: counts, latencyMs: latency,
                deliveredGreetings: delivered, subject)
        }

        let token: Secret<String>
        do {
            token = try vault.open(connection.tokenSealed, for: connection.owner)
        } catch {
            logger.error("Stored token cannot be opened", metadata: ["error.type": "\(type(of: error))"])
            try await finish(.failed, .failed, reason: ActivityReason.tokenUnreadable.rawValue, counts: [CountMetric.failed])
            return
        }
        do {
            let ids = try await sender.send(from: connection.instagramUserID, to: subject.customerID, texts: texts, options: options, token: token)
            try await finish(.sent, .replied, reason: nil, counts: plan.counts, sent: ids)
            logger.info("Reply sent", metadata: ["reply.id": "\(replyID)", "reply.parts": "\(ids.count)"])
        } catch let partial as GraphClient.PartialSend {
            // The greetings whose messages all went out are delivered. When nothing of the answer went out yet and
            // Instagram asked to wait, the rest is sent again later; otherwise the reply ends here.
            var left = partial.sent.count
            var delivered: [String] = []
            for (greeting, count) in zip(plan.greetings, GraphClient.parts(texts, options: options).map(\.count)) {
                guard left >= count else { break }
                left -= count
                delivered.append(greeting.kind.rawValue)
            }
            // Only whole greetings went out, nothing of the answer: the rest can go out on the job's next run.
            let retryable = switch partial.error { case .rateLimited, .transient: true; default: false }
            if left == 0, retryable, job.attempt < job.maxAttempts {
                try await ledger.parkAfterPart(replyID, sent: partial.sent, deliveredGreetings: delivered, reason: partial.error.reason, subject)
                logger.notice("Send will be retried after its greetings", metadata: ["reply.id": "\(replyID)", "graph.reason": "\(partial.error.reason)"])
                throw JobFailure.retryAfter(Backoff.delay(attempt: Int(job.attempt), base: .seconds(1), cap: .seconds(300)), partial.error.reason)
            }
            try await finish(
                .failed, .failed, reason: "partly_sent_\(partial.error.reason)", counts: [CountMetric.failed], sent: partial.sent, delivered: delivered)
        } catch let error as GraphError {
            switch error {
            case .rateLimited, .transient:
                if job.attempt < job.maxAttempts {
                    // Nothing was delivered: park the reply so the next run may send it, then retry the job with backoff.
                    try await ledger.park(replyID, reason: error.reason)
                    logger.notice("Send will be retried", metadata: ["reply.id": "\(replyID)", "graph.reason": "\(error.reason)"])
                    if case .rateLimited(let seconds?) = error { throw JobFailure.retryAfter(.seconds(seconds), error.reason) }
                    throw JobFailure.retryAfter(Backoff.delay(attempt: Int(job.attempt), base: .seconds(1), cap: .seconds(300)), error.reason)
                }
                try await finish(.failed, .failed, reason: error.reason, counts: [CountMetric.failed])
            case .ambiguous:
                try await finish(.unknown, .unknown, reason: error.reason, counts: [CountMetric.unknown])
            default:
                try await finish(.failed, .failed, reason: error.reason, counts: [CountMetric.failed])
            }
            logger.notice("Reply not sent", metadata: ["reply.id": "\(replyID)", "graph.reason": "\(error.reason)"])
        }
    }
}
