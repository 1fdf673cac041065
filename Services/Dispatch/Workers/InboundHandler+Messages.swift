import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import Foundation
import Logging
import ReplyDecision
import ReplyRules

extension InboundHandler {
    /// A customer's message or Ice Breaker tap: resumes the reply an earlier run left, or decides and answers it.
    func handleMessage(
        _ event: InboundEvent, mid: String, _ subject: ReplyLedger.Subject, _ connection: ConnectionRecord, job: ClaimedJob, logger: Logger
    ) async throws {
        if let existing = try await store.conversations.reply(inboundMID: mid) {
            try await resume(existing, event, subject, connection, job: job, logger: logger)
            return
        }
        let candidate = try await candidate(for: event, accountID: connection.accountID)
        let settings = try await store.automation.accountSettings(accountID: connection.accountID)
        let eventTime = Date(timeIntervalSince1970: Double(event.timestampMs) / 1000)
        // Before anything is committed `sending` (see `username(for:)`): the answer's, the greetings' or the fallback's.
        let name = await username(
            for: [candidate?.text, settings.welcomeText, settings.awayText, settings.botDisclosureText, settings.aiEnabled ? settings.fallbackText : nil],
            subject.customerID, connection)
        let isMention = event.storyTrigger == RuleTrigger.storyMention.rawValue
        let tapCounts = candidate?.tap.map { [CountMetric.option($0.ruleID, $0.position)] } ?? []
        let decided = try await ledger.decide(mid: mid, subject, eventTime: eventTime, counts: tapCounts) { [self] conversation, db in
            var lastSameAnswerAt: Date?
            if let key = candidate?.answerKey, settings.cooldownSeconds > 0 {
                lastSameAnswerAt = try await store.conversations.lastAnswered(
                    accountID: connection.accountID, customerID: subject.customerID, answerKey: key, on: db)
            }
            let facts = ReplyFacts(
                kind: event.kind, customerID: subject.customerID, text: subject.summary, hasAttachments: event.attachmentTypes != nil,
                eventTime: eventTime, businessID: connection.instagramUserID, connectionActive: connection.status == "active",
                pausedUntil: conversation.pausedUntil, lastSameAnswerAt: lastSameAnswerAt, cooldownSeconds: settings.cooldownSeconds,
                aiEnabled: settings.aiEnabled, isStory: event.storyTrigger != nil, candidate: candidate)
            let now = Date()
            if let gate = ReplyPolicy.gate(facts, now: now) { return .skip(gate) }
            // The welcome, away message and disclosure due, and whether the answer itself may go out.
            let greetings = Greetings.plan(settings: settings, conversation: conversation, now: now, kind: event.kind, isMention: isMention)
            func withGreetings(_ answer: ReplyPlan?, otherwise reason: ActivityReason) -> ReplyLedger.Decision {
                Greetings.attach(answer, greetings, settings: settings, conversation: conversation).map { .reply($0) } ?? .skip(reason)
            }
            guard greetings.answerAllowed else { return withGreetings(nil, otherwise: greetings.closed ? .outOfHours : .noRule) }
            switch ReplyPolicy.decide(facts, now: now) {
            case .skip(let reason): return withGreetings(nil, otherwise: reason)
            case .reply(let plan): return withGreetings(plan, otherwise: .noRule)
            case .askAI:
                switch try await aiDecision(settings: settings, accountID: connection.accountID, customer: subject.customerID, on: db) {
                case .reply(let plan): return withGreetings(plan, otherwise: .noRule)
                case .skip(let reason): return withGreetings(nil, otherwise: reason)
                case .ai: return .ai  // the greetings due are added when the AI's answer is sent
                }
            }
        }
        guard let (decision, replyID) = decided else { return }
        switch decision {
        case .skip: return
        case .ai: try await answerWithAI(replyID: replyID, event, subject, connection, settings: settings, job: job, logger: logger)
        case .reply(let plan): try await send(plan, username: name, replyID: replyID, event, subject, connection, job: job, logger: logger)
        }
    }

    /// The Ice Breaker tapped or the rule that matches, if any.
    func candidate(for event: InboundEvent, accountID: UUID) async throws -> ReplyPlan? {
        let iceBreakers = event.kind == .postback ? try await store.automation.iceBreakers(accountID: accountID) : []
        return ReplyPolicy.candidate(
            kind: event.kind, postbackPayload: event.postbackPayload, text: Self.text(of: event), iceBreakers: iceBreakers,
            matcher: try await matchers.matcher(for: accountID), trigger: event.storyTrigger.flatMap { RuleTrigger(rawValue: $0) } ?? .message,
            tapPayload: event.kind == .postback ? event.postbackPayload : event.quickReplyPayload)
    }

    /// A reply an earlier run of this job began.
    private func resume(
        _ existing: ReplyRecord, _ event: InboundEvent, _ subject: ReplyLedger.Subject, _ connection: ConnectionRecord, job: ClaimedJob, logger: Logger
    ) async throws {
        switch (ReplyState(rawValue: existing.state), existing.source) {
        case (.sending?, _):
            // That run committed "sending" and then stopped: Instagram may have the message, so it is not sent again.
            try await ledger.interrupted(existing, subject)
            logger.warning("Reply outcome unknown after an interrupted send", metadata: ["reply.id": "\(existing.id)"])
        case (.pending?, _):
            // That run reserved an AI answer and stopped before sending anything: ask again.
            try await answerWithAI(replyID: existing.id, event, subject, connection, job: job, logger: logger)
        case (.retry?, "ai"):
            // An AI answer Instagram refused for now. The answer itself is not stored, so the AI is asked again (not
            // counted against the daily budget a second time).
            try await ledger.resume(existing.id, from: .retry, to: .pending)
            try await answerWithAI(replyID: existing.id, event, subject, connection, job: job, logger: logger)
        case (.retry?, "fallback"):
            // The fallback text Instagram refused for now: the same text again, without asking the AI (the budget or the
            // breaker may be why it was chosen).
            let fallback = try await store.automation.accountSettings(accountID: connection.accountID).fallbackText
            guard !fallback.isEmpty else {
                try await ledger.skip(existing.id, from: .retry, reason: ActivityReason.fallbackRemoved.rawValue, source: "fallback", subject)
                return
            }
            let plan = try await greeted(ReplyPlan(text: fallback, source: "fallback", note: existing.note), event, subject, connection)
                ?? ReplyPlan(text: fallback, source: "fallback", note: existing.note)
            let name = await username(for: plan.messages, subject.customerID, connection)
            try await ledger.resume(existing.id, from: .retry, to: .sending)
            try await send(plan, username: name, replyID: existing.id, event, subject, connection, job: job, logger: logger)
        case (.retry?, _):
            // The last attempt delivered nothing: safe to send again, with what the rules say now and the greetings still
            // due. When nothing would be sent any more (the rule removed or changed meanwhile), nothing is.
            let answer = existing.source == "welcome" || existing.source == "away" ? nil : try await candidate(for: event, accountID: connection.accountID)
            guard let again = try await greeted(answer, event, subject, connection) else {
                try await ledger.skip(existing.id, from: .retry, reason: ActivityReason.ruleRemoved.rawValue, source: existing.source, subject)
                return
            }
            let name = await username(for: again.messages, subject.customerID, connection)
            try await ledger.resume(existing.id, from: .retry, to: .sending)
            try await send(again, username: name, replyID: existing.id, event, subject, connection, job: job, logger: logger)
        default:
            return  // sent, failed, unknown or skipped: decided for good
        }
    }

    /// `answer` with the greetings due now (a reply sent again after a retry: nothing went out the first time), or the
    /// greetings alone; nil when nothing would be sent. Outside business hours without `rules_out_of_hours`, no answer.
    func greeted(_ answer: ReplyPlan?, _ event: InboundEvent, _ subject: ReplyLedger.Subject, _ connection: ConnectionRecord) async throws -> ReplyPlan? {
        let settings = try await store.automation.accountSettings(accountID: connection.accountID)
        let conversation = try await store.conversations.conversation(accountID: connection.accountID, customerID: subject.customerID)
        let due = Greetings.plan(
            settings: settings, conversation: conversation, now: Date(), kind: event.kind, isMention: event.storyTrigger == RuleTrigger.storyMention.rawValue)
        return Greetings.attach(due.answerAllowed ? answer : nil, due, settings: settings, conversation: conversation)
    }
}
