import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import Foundation
import Logging
import ReplyDecision
import ReplyRules

extension InboundHandler {
    /// A customer's message, or a tap on an Ice Breaker, quick reply or button: resumes the reply an earlier run left,
    /// or decides and answers it.
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
                case .ai:
                    // The greetings due go before the AI's answer (or alone, if it gives none).
                    let due = Greetings.attach(ReplyPlan(text: "", source: "ai"), greetings, settings: settings, conversation: conversation)
                    return .ai(due?.greetings.map(\.kind.rawValue) ?? [])
                }
            }
        }
        guard let (decision, replyID) = decided else {
            // Handled before. A run that stopped earlier left a reply this run found above; but a run still going (its
            // lease ran out while it was stopped or cut off) may have decided in between, and may yet park its reply for
            // a retry it can no longer schedule. The job is not done while that reply is unfinished: it runs again
            // shortly and takes the reply up as it is then (the 60-s chaos run lost one DM this way). That run is alive:
            // a reply it is still sending (or asking the AI for) is left to it for a minute, not taken for interrupted.
            if let existing = try await store.conversations.reply(inboundMID: mid), let state = ReplyState(rawValue: existing.state), !state.isFinal {
                throw state == .retry ? ReplyLedger.changedUnderUs : ReplyLedger.inProgressElsewhere
            }
            return
        }
        switch decision {
        case .skip: return
        case .ai(let kinds):
            try await answerWithAI(replyID: replyID, event, subject, connection, settings: settings, greetings: Pending(kinds: kinds), job: job, logger: logger)
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
        let greetings = Pending(kinds: existing.greetings, decidedAt: existing.createdAt)
        switch (ReplyState(rawValue: existing.state), existing.source) {
        case (.sending?, _):
            // That run committed "sending" and then stopped: Instagram may have the message, so it is not sent again.
            try await ledger.interrupted(existing, subject)
            logger.warning("Reply outcome unknown after an interrupted send", metadata: ["reply.id": "\(existing.id)"])
        case (.pending?, _):
            // That run reserved an AI answer and stopped before sending anything: ask again.
            try await answerWithAI(replyID: existing.id, event, subject, connection, greetings: greetings, job: job, logger: logger)
        case (.retry?, "ai"):
            // An AI answer Instagram refused for now. The answer itself is not stored, so the AI is asked again (not
            // counted against the daily budget a second time).
            try await ledger.resume(existing.id, from: .retry, to: .pending)
            try await answerWithAI(replyID: existing.id, event, subject, connection, greetings: greetings, job: job, logger: logger)
        case (.retry?, let source):
            // The last attempt delivered nothing of the answer (at most some greetings): safe to send the rest again —
            // the greetings not delivered yet, and the answer as the rules say now (the fallback: the same text, without
            // asking the AI again; the budget or the breaker may be why it was chosen). When nothing is left (the rule
            // removed or changed, the fallback emptied), nothing is sent.
            let settings = try await store.automation.accountSettings(accountID: connection.accountID)
            let answer: ReplyPlan?
            switch source {
            case "fallback": answer = settings.fallbackText.isEmpty ? nil : ReplyPlan(text: settings.fallbackText, source: "fallback", note: existing.note)
            case "welcome", "away": answer = nil
            default: answer = try await candidate(for: event, accountID: connection.accountID)
            }
            guard var again = try await withGreetings(answer, greetings, subject, connection, settings: settings) else {
                let reason = source == "fallback" ? ActivityReason.fallbackRemoved : .ruleRemoved
                try await ledger.skip(existing.id, from: .retry, reason: reason.rawValue, source: existing.source, subject)
                return
            }
            // Greetings alone before an AI hand-off: the hand-off comes with them again.
            if answer == nil { again.handOffMinutes = existing.handOffMinutes }
            let name = await username(for: again.messages, subject.customerID, connection)
            try await ledger.startSending(existing.id, from: .retry, plan: again)
            try await send(again, username: name, replyID: existing.id, event, subject, connection, job: job, logger: logger)
        default:
            return  // sent, failed, unknown or skipped: decided for good
        }
    }

    /// The greetings a reply was decided with (kinds, from its row), and when.
    struct Pending: Sendable {
        var kinds: [String] = []
        var decidedAt: Date? = nil
    }

    /// `answer` with the reply's greetings not delivered yet, or those alone; nil when nothing is left to send.
    func withGreetings(
        _ answer: ReplyPlan?, _ pending: Pending, _ subject: ReplyLedger.Subject, _ connection: ConnectionRecord, settings: AccountSettings
    ) async throws -> ReplyPlan? {
        var greetings: [Greeting] = []
        if !pending.kinds.isEmpty {
            let conversation = try await store.conversations.conversation(accountID: connection.accountID, customerID: subject.customerID)
            greetings = Greetings.restore(pending.kinds, settings: settings, conversation: conversation, decidedAt: pending.decidedAt)
        }
        // Greetings alone go out only with a welcome or an away message among them (the disclosure comes before an
        // automated message, never by itself), and are logged and counted as that one.
        let alone = greetings.contains { $0.kind == .welcome } ? "welcome" : greetings.contains { $0.kind == .away } ? "away" : nil
        guard var plan = answer ?? alone.map({ ReplyPlan(text: "", source: $0) }) else { return nil }
        plan.greetings = greetings
        return plan
    }
}
