import AIReplies
import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import Foundation
import InstagramGraph
import Logging
import NIOCore
import ReplyRules

extension InboundHandler {
    // MARK: AI

    /// Whether to ask the AI for a message no rule answers, inside the decision transaction: the limits are checked and
    /// counted there, so two workers cannot both take the last call of a budget.
    func aiDecision(settings: AccountSettings, accountID: UUID, customer: String, on db: DatabaseConnection) async throws -> ReplyLedger.Decision {
        func fallbackOrSkip(_ reason: ActivityReason) -> ReplyLedger.Decision {
            ai.metrics.failure(reason: reason.rawValue)
            guard !settings.fallbackText.isEmpty else { return .skip(reason) }
            return .reply(ReplyPlan(text: settings.fallbackText, source: "fallback", note: reason.rawValue))
        }
        guard ai.available else { return .skip(.aiNotConfigured) }
        if ai.breaker.isOpen() { return fallbackOrSkip(.aiCircuitOpen) }
        switch try await store.conversations.reserveAICall(
            accountID: accountID, customerID: customer, dailyBudget: settings.aiDailyBudget, conversationLimit: ai.conversationLimit, on: db)
        {
        case .granted: return .ai
        case .budgetExhausted: return fallbackOrSkip(.aiBudgetExhausted)
        case .conversationLimit:
            // The bot has said enough in this conversation today: a person should take it from here, so nothing is sent.
            ai.metrics.failure(reason: ActivityReason.aiConversationLimit.rawValue)
            return .skip(.aiConversationLimit)
        }
    }

    /// Asks the AI for a `pending` reply and sends its answer, the fallback text, or nothing.
    func answerWithAI(
        replyID: Int64, _ event: InboundEvent, _ subject: ReplyLedger.Subject, _ connection: ConnectionRecord, settings known: AccountSettings? = nil,
        job: ClaimedJob, logger: Logger
    ) async throws {
        // A fresh decision passes the settings it just read; a resumed reply reads them again (they may have changed).
        let settings = if let known { known } else { try await store.automation.accountSettings(accountID: connection.accountID) }
        let result = try await ai.answer(
            text: subject.summary ?? "", accountID: connection.accountID, customerID: subject.customerID, settings: settings, logger: logger)
        let plan: ReplyPlan
        switch result {
        case .answer(let reply):
            plan = ReplyPlan(text: reply, source: "ai")
        case .declined(let reason) where !settings.fallbackText.isEmpty:
            plan = ReplyPlan(text: settings.fallbackText, source: "fallback", note: reason)
        case .declined(let reason):
            try await ledger.skip(replyID, from: .pending, reason: reason, source: "ai", subject)
            return
        }
        // Only one run gets from pending to sending: the send below happens once.
        try await ledger.startSending(replyID, plan: plan)
        try await send(plan, replyID: replyID, event, subject, connection, job: job, logger: logger)
    }

    // MARK: Sending

    /// Sends a reply that is `sending` and records what came of it.
    func send(
        _ plan: ReplyPlan, replyID: Int64, _ event: InboundEvent, _ subject: ReplyLedger.Subject, _ connection: ConnectionRecord, job: ClaimedJob,
        logger: Logger
    ) async throws {
        // An AI answer is sent as written; rule and Ice Breaker answers may hold {username}, filled from Instagram's
        // user profile at send time (below). The activity log keeps the answer without the name: it is never stored.
        let logged = plan.source == "ai" ? plan.text : ReplyTemplate.render(plan.text, username: nil)
        var reply = logged
        func finish(_ state: ReplyState, _ outcome: ActivityOutcome, reason: String?, counts: [String], sent: [String] = []) async throws {
            let latency = Int(Date().timeIntervalSince1970 * 1000 - Double(event.receivedAtMs))
            try await ledger.finish(
                replyID, state: state, outcome: outcome, reason: reason, plan: plan, sentText: logged, messageIDs: sent, counts: counts, latencyMs: latency,
                subject)
        }

        let token: Secret<String>
        do {
            token = try vault.open(connection.tokenSealed, for: connection.owner)
        } catch {
            logger.error("Stored token cannot be opened", metadata: ["error.type": "\(type(of: error))"])
            try await finish(.failed, .failed, reason: ActivityReason.tokenUnreadable.rawValue, counts: [CountMetric.failed])
            return
        }
        if plan.source != "ai", plan.text.contains("{username}") {
            let name = await sender.customerUsername(subject.customerID, token: token, timeout: .seconds(3))
            reply = ReplyTemplate.render(plan.text, username: name)
        }
        do {
            let ids = try await sender.sendText(from: connection.instagramUserID, to: subject.customerID, text: reply, token: token)
            try await finish(.sent, .replied, reason: nil, counts: plan.counts, sent: ids)
            logger.info("Reply sent", metadata: ["reply.id": "\(replyID)", "reply.parts": "\(ids.count)"])
        } catch let partial as GraphClient.PartialSend {
            try await finish(.failed, .failed, reason: "partly_sent_\(partial.error.reason)", counts: [CountMetric.failed], sent: partial.sent)
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
