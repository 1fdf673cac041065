import AIReplies
import FlowtalkCore
import FlowtalkStore
import Foundation
import InstagramGraph
import Logging
import NIOCore
import PostgresNIO
import ReplyRules

/// Handles inbound Instagram events: decides whether and what to answer, answers through the Graph API, and records
/// what happened — never twice for one message (DESIGN §5).
struct InboundHandler: Sendable {
    let store: DispatchStore
    let graph: GraphClient
    let vault: TokenVault
    let matchers: MatcherCache
    let ai: AIResponder
    /// The 24-hour window of Instagram's messaging policy.
    static let window: TimeInterval = 24 * 3600
    /// Another run of the same job (one whose lease ran out while it was stopped or cut off) moved the reply between this
    /// run's read and its write. This run must not end as done, or the job would be gone while that other run may leave
    /// the reply waiting for a retry nobody holds: the job runs again shortly and decides from the reply as it is then.
    static let changedUnderUs = JobFailure.retryAfter(.milliseconds(500), "reply_changed_concurrently")

    init(store: DispatchStore, graph: GraphClient, vault: TokenVault, ai: AIResponder) {
        self.store = store
        self.graph = graph
        self.vault = vault
        self.ai = ai
        self.matchers = MatcherCache(store: store)
    }

    /// The job handlers for every inbound kind ingest queues.
    var handlers: [String: JobHandler] {
        let handle: JobHandler = { job, logger in try await self.handle(job, logger: logger) }
        return Dictionary(uniqueKeysWithValues: InboundEvent.Kind.allCases.map { ("inbound.\($0.rawValue)", handle) })
    }

    func handle(_ job: ClaimedJob, logger: Logger) async throws {
        let event: InboundEvent
        do {
            event = try JSONDecoder().decode(InboundEvent.self, from: Data(job.payload.readableBytesView))
        } catch {
            throw JobFailure.permanent("undecodable payload")
        }
        guard let connection = try await store.connection(instagramUserID: event.accountID) else {
            // Unknown or disconnected account: acknowledged and dropped (there is no account to record it for).
            logger.notice("Event for unknown account dropped", metadata: ["event.kind": "\(event.kind.rawValue)"])
            return
        }
        guard let mid = event.mid, let customer = event.customerID else {
            try await recordOnce(event, mid: event.mid ?? event.dedupeKey, connection, outcome: "skipped", reason: "incomplete_event")
            return
        }
        switch event.kind {
        case .echo:
            try await handleEcho(event, mid: mid, customer: customer, connection, logger: logger)
        case .message, .postback:
            try await handleMessage(event, mid: mid, customer: customer, connection, job: job, logger: logger)
        case .edit:
            // A num_edit 0 edit carries no text; fetching the message through the Graph API is still to do.
            try await recordOnce(event, mid: mid, connection, outcome: "skipped", reason: "edit_without_text")
        case .deleted:
            try await recordOnce(event, mid: mid, connection, outcome: "ignored", reason: "message_deleted")
        }
    }

    // MARK: Echoes

    private func handleEcho(_ event: InboundEvent, mid: String, customer: String, _ connection: ConnectionRecord, logger: Logger) async throws {
        // Our own reply coming back: nothing to do. The conversation's jobs run in order, so the reply that sent it has
        // already recorded its message id by now.
        if try await store.isOwnMessage(mid: mid) { return }
        if try await confirmInterruptedReply(event, mid: mid, customer: customer, connection, logger: logger) { return }
        let settings = try await store.settings(accountID: connection.accountID)
        try await store.client.withTransaction(logger: store.logger) { db in
            guard try await store.markHandled(mid: mid, kind: event.kind.rawValue, accountID: connection.accountID, on: db) else { return }
            // A person answered from the Instagram app: the bot steps back for this conversation.
            try await store.pause(accountID: connection.accountID, customerID: customer, minutes: settings.humanPauseMinutes, on: db)
            try await store.addActivity(
                ActivityEntry(customerID: customer, eventKind: "echo", summary: nil, outcome: "paused", reason: "human_reply"),
                accountID: connection.accountID, on: db)
            try await store.count(["human_replies"], accountID: connection.accountID, on: db)
        }
        logger.info("Conversation paused after a human reply")
    }

    // MARK: Messages

    private enum Decision {
        case skip(String)
        case reply(ReplyPlan)
        /// Ask the AI (the call is reserved against the limits; the reply row is `pending`).
        case ai
    }

    /// What to send and why.
    struct ReplyPlan: Sendable {
        let text: String
        /// `rule`, `ice_breaker`, `ai` or `fallback`.
        let source: String
        var ruleID: UUID? = nil
        var iceBreaker: Int? = nil
        /// Why this was sent instead of an AI answer (fallback text), for the activity log.
        var note: String? = nil

        var counts: [String] {
            if let iceBreaker { return ["replied_ice_breaker", "ice_breaker:\(iceBreaker)"] }
            switch source {
            case "ai": return ["replied_ai"]
            case "fallback": return ["replied_fallback"] + (note.map { ["fallback:\($0)"] } ?? [])
            default: return ["replied_rule"] + (ruleID.map { ["rule:\($0.uuidString.lowercased())"] } ?? [])
            }
        }
    }

    /// An Ice Breaker tap answers with that Ice Breaker's answer first; anything else goes to the keyword rules.
    private func plan(for event: InboundEvent, text: String?, accountID: UUID) async throws -> ReplyPlan? {
        if event.kind == .postback, let payload = event.postbackPayload,
            let tapped = try await store.iceBreakers(accountID: accountID).first(where: { $0.payload == payload })
        {
            return ReplyPlan(text: tapped.answer, source: "ice_breaker", iceBreaker: tapped.position)
        }
        guard let text, !text.isEmpty, let match = try await matchers.matcher(for: accountID).match(text) else { return nil }
        return ReplyPlan(text: match.reply, source: "rule", ruleID: UUID(uuidString: match.ruleID))
    }

    private func handleMessage(
        _ event: InboundEvent, mid: String, customer: String, _ connection: ConnectionRecord, job: ClaimedJob, logger: Logger
    ) async throws {
        let accountID = connection.accountID
        let text = event.kind == .postback ? (event.postbackTitle ?? event.postbackPayload) : event.text
        var replyID: Int64
        var plan: ReplyPlan

        if let existing = try await store.reply(inboundMID: mid) {
            switch existing.state {
            case "sending":
                // A run before this one committed "sending" and then stopped: Instagram may have the message.
                // Its Send API has no idempotency key, so the only safe choice is not to send again.
                try await store.client.withTransaction(logger: store.logger) { db in
                    guard try await store.transition(replyID: existing.id, from: "sending", to: "unknown", error: "interrupted", on: db) else {
                        throw Self.changedUnderUs
                    }
                    try await store.addActivity(
                        ActivityEntry(
                            customerID: customer, eventKind: event.kind.rawValue, summary: text, outcome: "unknown", source: existing.source,
                            ruleID: existing.ruleID, reason: "interrupted_while_sending"), accountID: accountID, on: db)
                    try await store.count(["unknown"], accountID: accountID, on: db)
                }
                logger.warning("Reply outcome unknown after an interrupted send", metadata: ["reply.id": "\(existing.id)"])
                return
            case "pending":
                // A run before this one reserved an AI answer and stopped before sending anything: ask again.
                try await answerWithAI(replyID: existing.id, event: event, text: text, customer: customer, connection, job: job, logger: logger)
                return
            case "retry" where existing.source == "ai":
                // An AI answer that Instagram refused for now. The answer itself is not stored, so the AI is asked again
                // (not counted against the daily budget a second time).
                let resumed = try await store.client.withTransaction(logger: store.logger) { db in
                    try await store.transition(replyID: existing.id, from: "retry", to: "pending", on: db)
                }
                guard resumed else { throw Self.changedUnderUs }
                try await answerWithAI(replyID: existing.id, event: event, text: text, customer: customer, connection, job: job, logger: logger)
                return
            case "retry" where existing.source == "fallback":
                // The fallback text (sent instead of an AI answer) that Instagram refused for now: the same text again,
                // without asking the AI (the budget or the breaker may be why it was chosen).
                let fallback = try await store.settings(accountID: accountID).fallbackText
                let resumed = try await store.client.withTransaction(logger: store.logger) { db in
                    guard !fallback.isEmpty else {
                        guard try await store.transition(replyID: existing.id, from: "retry", to: "skipped", error: "fallback_removed", on: db) else {
                            throw Self.changedUnderUs
                        }
                        try await store.addActivity(
                            ActivityEntry(customerID: customer, eventKind: event.kind.rawValue, summary: text, outcome: "skipped", source: "fallback",
                                          reason: "fallback_removed"), accountID: accountID, on: db)
                        try await store.count(["skipped:fallback_removed"], accountID: accountID, on: db)
                        return false
                    }
                    guard try await store.transition(replyID: existing.id, from: "retry", to: "sending", on: db) else { throw Self.changedUnderUs }
                    return true
                }
                guard resumed else { return }
                replyID = existing.id
                plan = ReplyPlan(text: fallback, source: "fallback", note: existing.note)
            case "retry":
                // The last attempt was answered with a failure that delivered nothing: safe to send again, with what the
                // rules say now. When no rule answers any more (removed or changed meanwhile), nothing is sent.
                let again = try await self.plan(for: event, text: text, accountID: accountID)
                try await store.client.withTransaction(logger: store.logger) { db in
                    guard try await store.transition(replyID: existing.id, from: "retry", to: again == nil ? "skipped" : "sending",
                                                     error: again == nil ? "rule_removed" : nil, on: db)
                    else { throw Self.changedUnderUs }
                    guard again == nil else { return }
                    try await store.addActivity(
                        ActivityEntry(customerID: customer, eventKind: event.kind.rawValue, summary: text, outcome: "skipped", source: existing.source,
                                      reason: "rule_removed"), accountID: accountID, on: db)
                    try await store.count(["skipped:rule_removed"], accountID: accountID, on: db)
                }
                guard let again else { return }
                replyID = existing.id
                plan = again
            default:
                return  // sent, failed or unknown: decided for good
            }
        } else {
            let candidate = try await self.plan(for: event, text: text, accountID: accountID)
            let settings = try await store.settings(accountID: accountID)
            let eventTime = Date(timeIntervalSince1970: Double(event.timestampMs) / 1000)
            let decided: (Decision, Int64)? = try await store.client.withTransaction(logger: store.logger) { db in
                guard try await store.markHandled(mid: mid, kind: event.kind.rawValue, accountID: accountID, on: db) else { return nil }
                let conversation = try await store.touchConversation(accountID: accountID, customerID: customer, customerMessageAt: eventTime, on: db)
                let now = Date()
                let decision: Decision
                if customer == connection.instagramUserID {
                    decision = .skip("from_business")  // the business writing to itself: never answer ourselves
                } else if connection.status != "active" {
                    decision = .skip("needs_reconnect")
                } else if now.timeIntervalSince(eventTime) > Self.window {
                    decision = .skip("outside_window")
                } else if let paused = conversation.pausedUntil, paused > now {
                    decision = .skip("human_active")
                } else if let last = conversation.lastReplyAt, now.timeIntervalSince(last) < Double(settings.cooldownSeconds) {
                    decision = .skip("cooldown")
                } else if let candidate {
                    decision = .reply(candidate)
                } else if let text, !text.isEmpty, event.kind == .message, settings.aiEnabled {
                    decision = try await aiDecision(settings: settings, accountID: accountID, customer: customer, on: db)
                } else if let text, !text.isEmpty {
                    decision = .skip("no_rule")
                } else {
                    decision = .skip(event.attachmentTypes == nil ? "no_text" : "attachment_only")
                }
                switch decision {
                case .skip(let reason):
                    try await store.addActivity(
                        ActivityEntry(customerID: customer, eventKind: event.kind.rawValue, summary: text, outcome: "skipped", reason: reason),
                        accountID: accountID, on: db)
                    try await store.count(["received", "skipped:\(reason)"], accountID: accountID, on: db)
                    return (decision, 0)
                case .reply(let found):
                    let id = try await store.beginReply(
                        accountID: accountID, inboundMID: mid, customerID: customer, source: found.source, ruleID: found.ruleID, note: found.note,
                        on: db)
                    try await store.count(["received"], accountID: accountID, on: db)
                    return (decision, id)
                case .ai:
                    let id = try await store.beginReply(
                        accountID: accountID, inboundMID: mid, customerID: customer, source: "ai", ruleID: nil, state: "pending", on: db)
                    try await store.count(["received"], accountID: accountID, on: db)
                    return (decision, id)
                }
            }
            guard let (decision, id) = decided else { return }
            switch decision {
            case .skip: return
            case .ai:
                try await answerWithAI(
                    replyID: id, event: event, text: text, customer: customer, connection, settings: settings, job: job, logger: logger)
                return
            case .reply(let found):
                replyID = id
                plan = found
            }
        }
        try await send(plan, replyID: replyID, event: event, text: text, customer: customer, connection, job: job, logger: logger)
    }

    // MARK: AI

    /// Whether to ask the AI for a message no rule answers, inside the decision transaction: the limits are checked and
    /// counted there, so two workers cannot both take the last call of a budget.
    private func aiDecision(settings: AccountSettings, accountID: UUID, customer: String, on db: DatabaseConnection) async throws -> Decision {
        func fallbackOrSkip(_ reason: String) -> Decision {
            ai.metrics.failure(reason: reason)
            guard !settings.fallbackText.isEmpty else { return .skip(reason) }
            return .reply(ReplyPlan(text: settings.fallbackText, source: "fallback", note: reason))
        }
        guard ai.available else { return .skip("ai_not_configured") }
        if ai.breaker.isOpen() { return fallbackOrSkip("ai_circuit_open") }
        switch try await store.reserveAICall(
            accountID: accountID, customerID: customer, dailyBudget: settings.aiDailyBudget, conversationLimit: ai.conversationLimit, on: db)
        {
        case .granted: return .ai
        case .budgetExhausted: return fallbackOrSkip("ai_budget_exhausted")
        case .conversationLimit:
            // The bot has said enough in this conversation today: a person should take it from here, so nothing is sent.
            ai.metrics.failure(reason: "ai_conversation_limit")
            return .skip("ai_conversation_limit")
        }
    }

    /// Asks the AI for a `pending` reply and sends its answer, the fallback text, or nothing.
    private func answerWithAI(
        replyID: Int64, event: InboundEvent, text: String?, customer: String, _ connection: ConnectionRecord, settings known: AccountSettings? = nil,
        job: ClaimedJob, logger: Logger
    ) async throws {
        let accountID = connection.accountID
        // A fresh decision passes the settings it just read; a resumed reply reads them again (they may have changed).
        let settings = if let known { known } else { try await store.settings(accountID: accountID) }
        let result = try await ai.answer(text: text ?? "", accountID: accountID, customerID: customer, settings: settings, logger: logger)
        let plan: ReplyPlan
        switch result {
        case .answer(let reply):
            plan = ReplyPlan(text: reply, source: "ai")
        case .declined(let reason) where !settings.fallbackText.isEmpty:
            plan = ReplyPlan(text: settings.fallbackText, source: "fallback", note: reason)
        case .declined(let reason):
            try await store.client.withTransaction(logger: store.logger) { db in
                guard try await store.transition(replyID: replyID, from: "pending", to: "skipped", error: reason, on: db) else { throw Self.changedUnderUs }
                try await store.addActivity(
                    ActivityEntry(customerID: customer, eventKind: event.kind.rawValue, summary: text, outcome: "skipped", source: "ai", reason: reason),
                    accountID: accountID, on: db)
                try await store.count(["skipped:\(reason)"], accountID: accountID, on: db)
            }
            return
        }
        // Only one run gets from pending to sending: the send below happens once.
        guard try await store.startSending(replyID: replyID, from: "pending", source: plan.source, note: plan.note) else { throw Self.changedUnderUs }
        try await send(plan, replyID: replyID, event: event, text: text, customer: customer, connection, job: job, logger: logger)
    }

    private func send(
        _ plan: ReplyPlan, replyID: Int64, event: InboundEvent, text: String?, customer: String, _ connection: ConnectionRecord, job: ClaimedJob,
        logger: Logger
    ) async throws {
        let accountID = connection.accountID
        let ruleID = plan.ruleID
        // An AI answer is sent as written; rule and Ice Breaker answers may hold placeholders.
        let reply = plan.source == "ai" ? plan.text : ReplyTemplate.render(plan.text, username: nil)
        func finish(_ state: String, outcome: String, reason: String?, counts: [String], sent: [String] = []) async throws {
            let latency = Int(Date().timeIntervalSince1970 * 1000 - Double(event.receivedAtMs))
            try await store.client.withTransaction(logger: store.logger) { db in
                guard try await store.transition(replyID: replyID, from: "sending", to: state, error: reason, on: db) else { return }
                try await store.recordSent(messageIDs: sent, accountID: accountID, replyID: replyID, on: db)
                if reason == GraphError.tokenInvalid(subcode: nil).reason { try await store.markNeedsReconnect(accountID: accountID, on: db) }
                try await store.addActivity(
                    ActivityEntry(
                        customerID: customer, eventKind: event.kind.rawValue, summary: text, outcome: outcome, source: plan.source, ruleID: ruleID,
                        reason: reason ?? plan.note, latencyMs: outcome == "replied" ? latency : nil, replySummary: sent.isEmpty ? nil : reply),
                    accountID: accountID, on: db)
                try await store.count(counts, accountID: accountID, on: db)
            }
        }

        let token: Secret<String>
        do {
            token = try vault.open(connection.tokenSealed, for: connection.owner)
        } catch {
            logger.error("Stored token cannot be opened", metadata: ["error.type": "\(type(of: error))"])
            try await finish("failed", outcome: "failed", reason: "token_unreadable", counts: ["failed"])
            return
        }
        do {
            let ids = try await graph.sendText(from: connection.instagramUserID, to: customer, text: reply, token: token)
            try await finish("sent", outcome: "replied", reason: nil, counts: plan.counts, sent: ids)
            logger.info("Reply sent", metadata: ["reply.id": "\(replyID)", "reply.parts": "\(ids.count)"])
        } catch let partial as GraphClient.PartialSend {
            try await finish("failed", outcome: "failed", reason: "partly_sent_\(partial.error.reason)", counts: ["failed"], sent: partial.sent)
        } catch let error as GraphError {
            switch error {
            case .rateLimited, .transient:
                if job.attempt < job.maxAttempts {
                    // Nothing was delivered: park the reply so the next run may send it, then retry the job with backoff.
                    _ = try await store.client.withTransaction(logger: store.logger) { db in
                        try await store.transition(replyID: replyID, from: "sending", to: "retry", error: error.reason, on: db)
                    }
                    logger.notice("Send will be retried", metadata: ["reply.id": "\(replyID)", "graph.reason": "\(error.reason)"])
                    if case .rateLimited(let seconds?) = error { throw JobFailure.retryAfter(.seconds(seconds), error.reason) }
                    throw JobFailure.retryAfter(Backoff.delay(attempt: Int(job.attempt), base: .seconds(1), cap: .seconds(300)), error.reason)
                }
                try await finish("failed", outcome: "failed", reason: error.reason, counts: ["failed"])
            case .ambiguous:
                try await finish("unknown", outcome: "unknown", reason: error.reason, counts: ["unknown"])
            default:
                try await finish("failed", outcome: "failed", reason: error.reason, counts: ["failed"])
            }
            logger.notice("Reply not sent", metadata: ["reply.id": "\(replyID)", "graph.reason": "\(error.reason)"])
        }
    }

    /// Records an event that needs no reply, once.
    private func recordOnce(_ event: InboundEvent, mid: String, _ connection: ConnectionRecord, outcome: String, reason: String) async throws {
        try await store.client.withTransaction(logger: store.logger) { db in
            guard try await store.markHandled(mid: mid, kind: event.kind.rawValue, accountID: connection.accountID, on: db) else { return }
            try await store.addActivity(
                ActivityEntry(customerID: event.customerID, eventKind: event.kind.rawValue, summary: nil, outcome: outcome, reason: reason),
                accountID: connection.accountID, on: db)
            try await store.count(["\(outcome):\(reason)"], accountID: connection.accountID, on: db)
        }
    }
}

/// One compiled matcher per account, rebuilt only when the account's rules change.
actor MatcherCache {
    private let store: DispatchStore
    private var cache: [UUID: (version: String, matcher: RuleMatcher)] = [:]

    init(store: DispatchStore) { self.store = store }

    func matcher(for accountID: UUID) async throws -> RuleMatcher {
        let version = try await store.rulesVersion(accountID: accountID)
        if let cached = cache[accountID], cached.version == version { return cached.matcher }
        let matcher = RuleMatcher(rules: try await store.rules(accountID: accountID))
        cache[accountID] = (version, matcher)
        return matcher
    }
}
