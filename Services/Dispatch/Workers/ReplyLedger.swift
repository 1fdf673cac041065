import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import Foundation
import InstagramGraph
import ReplyDecision
import Tracing

/// The record of one customer event as it is decided and answered. Each call is one transaction that moves the reply
/// (when there is one), writes the activity entry and adds the hourly counts together, so the dashboard's log and
/// figures never disagree with the replies.
struct ReplyLedger: Sendable {
    let store: DispatchStores
    var metrics = ReplyMetrics()

    /// Who and what the entries are about.
    struct Subject: Sendable {
        let accountID: UUID
        /// Empty only for an incomplete event (no sender), which is logged without a customer.
        let customerID: String
        let eventKind: String
        /// The customer's text (the log keeps 80 characters).
        let summary: String?
        /// The message the event is about, kept on its log entries so an unsend finds them.
        var mid: String? = nil
    }

    /// What the decision transaction chose.
    enum Decision: Sendable {
        case skip(ActivityReason)
        case reply(ReplyPlan)
        /// Ask the AI (the call is reserved against the limits; the reply row is `pending`), with the greetings due
        /// (kinds), sent before its answer.
        case ai([String])
    }

    /// Another run of the same job (one whose lease ran out while it was stopped or cut off) moved the reply between this
    /// run's read and its write. This run must not end as done, or the job would be gone while that other run may leave
    /// the reply waiting for a retry nobody holds: the job runs again shortly and decides from the reply as it is then.
    static let changedUnderUs = JobFailure.retryAfter(.milliseconds(500), "reply_changed_concurrently")
    /// The same, when that other run is known to be alive and its reply is being sent or waiting for the AI: the job runs
    /// again after longer than a send or an AI answer takes, so a send still going is not taken for an interrupted one.
    static let inProgressElsewhere = JobFailure.retryAfter(.seconds(60), "reply_changed_concurrently")

    /// Marks the event handled, reads and locks its conversation, and records what `decide` chose, in one transaction:
    /// a skip is logged and counted; a reply row is begun (`sending`, or `pending` for the AI). Nil when the event was
    /// handled before; else the decision and the reply's id (0 for a skip).
    /// `counts`: what the event adds whatever is decided (a tap on an option).
    func decide(
        mid: String, _ subject: Subject, eventTime: Date, counts: [String] = [],
        _ decide: @escaping @Sendable (ConversationState, DatabaseConnection) async throws -> Decision
    ) async throws -> (Decision, Int64)? {
        let result = try await withSpan("reply.decide") { span in
            let result = try await decideInTransaction(mid: mid, subject, counts: counts, decide)
            span.attributes["flowtalk.decision"] = switch result?.0 {
            case .skip(let reason): "skip:\(reason.rawValue)"
            case .reply(let plan): "reply:\(plan.source)"
            case .ai: "ai"
            case nil: "handled_before"
            }
            return result
        }
        if case .skip = result?.0 { metrics.decided(ActivityOutcome.skipped.rawValue) }
        return result
    }

    private func decideInTransaction(
        mid: String, _ subject: Subject, counts: [String], _ decide: @escaping @Sendable (ConversationState, DatabaseConnection) async throws -> Decision
    ) async throws -> (Decision, Int64)? {
        try await store.client.withTransaction(logger: store.logger) { [store] db -> (Decision, Int64)? in
            guard try await store.conversations.markHandled(mid: mid, kind: subject.eventKind, accountID: subject.accountID, on: db) else { return nil }
            let conversation = try await store.conversations.touchConversation(accountID: subject.accountID, customerID: subject.customerID, on: db)
            let decision = try await decide(conversation, db)
            switch decision {
            case .skip(let reason):
                try await add(subject, outcome: .skipped, reason: reason.rawValue, on: db)
                try await store.activity.count([CountMetric.received, CountMetric.skipped(reason.rawValue)] + counts, accountID: subject.accountID, on: db)
                return (decision, 0)
            case .reply(let plan):
                let id = try await store.conversations.beginReply(
                    accountID: subject.accountID, inboundMID: mid, customerID: subject.customerID, source: plan.source, ruleID: plan.ruleID,
                    note: plan.note, answerKey: plan.answerKey, greetings: plan.greetings.map(\.kind.rawValue), handOffMinutes: plan.handOffMinutes, on: db)
                try await store.activity.count([CountMetric.received] + counts, accountID: subject.accountID, on: db)
                return (decision, id)
            case .ai(let greetings):
                let id = try await store.conversations.beginReply(
                    accountID: subject.accountID, inboundMID: mid, customerID: subject.customerID, source: "ai", ruleID: nil,
                    state: ReplyState.pending.rawValue, greetings: greetings, on: db)
                try await store.activity.count([CountMetric.received] + counts, accountID: subject.accountID, on: db)
                return (decision, id)
            }
        }
    }

    /// A reply found `sending` by a later run: Instagram may have it, and its Send API has no idempotency key, so it is
    /// never sent again: `unknown` (an echo may still confirm it).
    func interrupted(_ reply: ReplyRecord, _ subject: Subject) async throws {
        try await store.client.withTransaction(logger: store.logger) { [store] db in
            try await move(reply.id, from: .sending, to: .unknown, error: "interrupted", on: db)
            try await add(subject, outcome: .unknown, source: reply.source, ruleID: reply.ruleID, reason: ActivityReason.interruptedWhileSending.rawValue, on: db)
            try await store.activity.count([CountMetric.unknown], accountID: subject.accountID, on: db)
            // The customer may have it all: its greetings are not sent again, and a hand-off steps the bot back.
            try await delivered(greetings: reply.greetings, handOff: reply.handOffMinutes, ruleID: reply.ruleID, subject, on: db)
        }
        metrics.decided(ActivityOutcome.unknown.rawValue)
    }

    /// Moves a reply on (retry → pending or sending, pending → sending); throws `changedUnderUs` when another run did.
    func resume(_ replyID: Int64, from: ReplyState, to: ReplyState) async throws {
        try await store.client.withTransaction(logger: store.logger) { db in try await move(replyID, from: from, to: to, on: db) }
    }

    /// Ends a reply without a send: `skipped` with `reason`, logged and counted.
    func skip(_ replyID: Int64, from: ReplyState, reason: String, source: String, _ subject: Subject) async throws {
        try await store.client.withTransaction(logger: store.logger) { [store] db in
            try await move(replyID, from: from, to: .skipped, error: reason, on: db)
            try await add(subject, outcome: .skipped, source: source, reason: reason, on: db)
            try await store.activity.count([CountMetric.skipped(reason)], accountID: subject.accountID, on: db)
        }
        metrics.decided(ActivityOutcome.skipped.rawValue)
    }

    /// Starts the send of a `pending` AI reply, or of a `retry` one, with what it will send now (only one run gets
    /// from there to sending).
    func startSending(_ replyID: Int64, from: ReplyState = .pending, plan: ReplyPlan) async throws {
        guard try await store.conversations.startSending(
            replyID: replyID, from: from.rawValue, source: plan.source, note: plan.note, answerKey: plan.answerKey, ruleID: plan.ruleID,
            greetings: plan.greetings.map(\.kind.rawValue), handOffMinutes: plan.handOffMinutes) else {
            throw Self.changedUnderUs
        }
    }

    /// The first messages of a reply went out, then Instagram refused the next one for now: those are recorded as ours
    /// (and the greetings among them as delivered), and the reply waits for a retry that sends the rest.
    func parkAfterPart(_ replyID: Int64, sent messageIDs: [String], deliveredGreetings: [String], reason: String, _ subject: Subject) async throws {
        try await store.client.withTransaction(logger: store.logger) { [store] db in
            try await store.conversations.recordSent(messageIDs: messageIDs, accountID: subject.accountID, replyID: replyID, on: db)
            try await store.conversations.markGreetings(deliveredGreetings, accountID: subject.accountID, customerID: subject.customerID, on: db)
            guard try await store.conversations.transition(replyID: replyID, from: ReplyState.sending.rawValue, to: ReplyState.retry.rawValue, error: reason, on: db)
            else { throw Self.changedUnderUs }
        }
    }

    /// Nothing was delivered and Instagram asked to wait: the next run of the job may send it again.
    func park(_ replyID: Int64, reason: String) async throws {
        _ = try await store.client.withTransaction(logger: store.logger) { [store] db in
            try await store.conversations.transition(replyID: replyID, from: ReplyState.sending.rawValue, to: ReplyState.retry.rawValue, error: reason, on: db)
        }
    }

    /// What the send came to: the reply's final state, the message ids Instagram gave (so their echoes are known as
    /// ours), the connection marked when the token was refused, the log entry and the counts. Nothing when another run
    /// decided the reply first.
    /// `deliveredGreetings`: the greetings that went out (or may have); nil for all of the plan's when it was sent.
    ///
    /// A reply sent commits without waiting for the disk (issue 17: one of the two waits of a reply). It is visible at
    /// once, and durable once any later commit is: the job's completion, which comes after it, waits for the disk and so
    /// makes this durable too. Only a crash of PostgreSQL itself before that can lose it, and then the job runs again
    /// and finds the reply `sending`, as after a crash in the middle of a send: `unknown`, never sent twice, and its echo
    /// may still confirm it. Other outcomes wait (were one lost, a reply known not to have gone out would count as
    /// `unknown`, with its greetings and hand-off taken as delivered); so does the decision, which must be durable
    /// before anything is sent.
    func finish(
        _ replyID: Int64, state: ReplyState, outcome: ActivityOutcome, reason: String?, plan: ReplyPlan, sentText: String, messageIDs: [String],
        counts: [String], latencyMs: Int, deliveredGreetings: [String]? = nil, _ subject: Subject
    ) async throws {
        let recorded = try await store.client.withTransaction(logger: store.logger) { [store] db -> Bool in
            if state == .sent { try await db.commitWithoutWaitingForDisk(logger: store.logger) }
            guard try await store.conversations.transition(replyID: replyID, from: ReplyState.sending.rawValue, to: state.rawValue, error: reason, on: db) else {
                return false
            }
            try await store.conversations.recordSent(messageIDs: messageIDs, accountID: subject.accountID, replyID: replyID, on: db)
            if reason == ActivityReason.tokenInvalid.rawValue { try await store.connections.markNeedsReconnect(accountID: subject.accountID, on: db) }
            try await store.activity.add(
                ActivityEntry(
                    customerID: subject.customerID, eventKind: subject.eventKind, summary: subject.summary, outcome: outcome.rawValue, source: plan.source,
                    ruleID: plan.ruleID, reason: reason ?? plan.note, latencyMs: outcome == .replied ? latencyMs : nil,
                    replySummary: messageIDs.isEmpty ? nil : sentText, mid: subject.mid),
                accountID: subject.accountID, on: db)
            // A reply sent counts its latency's bucket too: the statistics' percentiles come from the counts alone.
            try await store.activity.count(
                counts + (outcome == .replied ? [LatencyHistogram.metric(latencyMs)] : []), accountID: subject.accountID, on: db)
            // The welcome, disclosure or away message that reached the customer (or may have) is not sent again; a
            // hand-off that went out (an unknown outcome may have: "someone will answer you") steps the bot back.
            let maybeDelivered = state == .sent || state == .unknown
            try await delivered(
                greetings: deliveredGreetings ?? (maybeDelivered ? plan.greetings.map(\.kind.rawValue) : []),
                handOff: maybeDelivered ? plan.handOffMinutes : nil, ruleID: plan.ruleID, subject, on: db)
            return true
        }
        guard recorded else { return }
        metrics.decided(outcome.rawValue)
        if outcome == .replied { metrics.replied(latencyMs: latencyMs) }
    }

    /// The AI could not help and the account hands such conversations to a person: the `pending` reply ends skipped,
    /// the bot steps back for `minutes` and the conversation waits for a person ("waiting for you").
    func handOff(_ replyID: Int64, minutes: Int, _ subject: Subject) async throws {
        try await store.client.withTransaction(logger: store.logger) { [store] db in
            try await move(replyID, from: .pending, to: .skipped, error: ActivityReason.aiHandOff.rawValue, on: db)
            try await store.conversations.pause(accountID: subject.accountID, customerID: subject.customerID, minutes: minutes, extendOnly: true, on: db)
            try await store.activity.add(
                ActivityEntry(
                    customerID: subject.customerID, eventKind: subject.eventKind, summary: subject.summary, outcome: ActivityOutcome.paused.rawValue,
                    source: "ai", reason: ActivityReason.handOff.rawValue, mid: subject.mid),
                accountID: subject.accountID, on: db)
            try await store.activity.count([CountMetric.handOffs, CountMetric.skipped(ActivityReason.aiHandOff.rawValue)], accountID: subject.accountID, on: db)
        }
        metrics.decided(ActivityOutcome.paused.rawValue)
    }

    /// Counts a reaction to one of the bot's messages, once per event (reactions are not logged or answered).
    func countReaction(mid: String, _ subject: Subject) async throws {
        _ = try await store.client.withTransaction(logger: store.logger) { [store] db -> Bool in
            guard try await store.conversations.markHandled(mid: mid, kind: subject.eventKind, accountID: subject.accountID, on: db) else { return false }
            try await store.activity.count([CountMetric.reactions], accountID: subject.accountID, on: db)
            return true
        }
    }

    /// Records an event that needs no reply, once.
    func recordOnce(mid: String, _ subject: Subject, outcome: ActivityOutcome, reason: ActivityReason) async throws {
        let recorded = try await store.client.withTransaction(logger: store.logger) { [store] db -> Bool in
            guard try await store.conversations.markHandled(mid: mid, kind: subject.eventKind, accountID: subject.accountID, on: db) else { return false }
            try await store.activity.add(
                ActivityEntry(
                    customerID: subject.customerID.isEmpty ? nil : subject.customerID, eventKind: subject.eventKind, summary: nil, outcome: outcome.rawValue,
                    reason: reason.rawValue, mid: subject.mid),
                accountID: subject.accountID, on: db)
            try await store.activity.count(["\(outcome.rawValue):\(reason.rawValue)"], accountID: subject.accountID, on: db)
            return true
        }
        if recorded { metrics.decided(outcome.rawValue) }
    }

    /// The customer unsent `mid` (once): the log entries about it lose their text, a reply not yet sent is cancelled,
    /// and the unsend is logged ("unsent by the customer").
    func unsent(mid: String, _ subject: Subject) async throws {
        try await store.client.withTransaction(logger: store.logger) { [store] db in
            _ = try await store.conversations.recordUnsend(
                mid: mid, accountID: subject.accountID, customerID: subject.customerID, eventKind: subject.eventKind, on: db)
        }
    }

    /// A person answered from the Instagram app: the bot steps back from this conversation for `minutes`, once per echo.
    func pauseForHumanReply(mid: String, _ subject: Subject, minutes: Int) async throws {
        let recorded = try await store.client.withTransaction(logger: store.logger) { [store] db -> Bool in
            guard try await store.conversations.markHandled(mid: mid, kind: subject.eventKind, accountID: subject.accountID, on: db) else { return false }
            try await store.conversations.pause(accountID: subject.accountID, customerID: subject.customerID, minutes: minutes, extendOnly: true, on: db)
            try await store.activity.add(
                ActivityEntry(customerID: subject.customerID, eventKind: subject.eventKind, summary: nil, outcome: ActivityOutcome.paused.rawValue,
                              reason: ActivityReason.humanReply.rawValue),
                accountID: subject.accountID, on: db)
            try await store.activity.count([CountMetric.humanReplies], accountID: subject.accountID, on: db)
            return true
        }
        if recorded { metrics.decided(ActivityOutcome.paused.rawValue) }
    }

    /// The business paused the bot for one customer from the dashboard (`minutes` > 0) or turned it back on (0): the
    /// conversation and its log entry, in one transaction.
    func ownerPause(accountID: UUID, customerID: String, minutes: Int) async throws {
        try await store.client.withTransaction(logger: store.logger) { [store] db in
            if minutes > 0 {
                try await store.conversations.pause(accountID: accountID, customerID: customerID, minutes: minutes, on: db)
            } else {
                try await store.conversations.resume(accountID: accountID, customerID: customerID, on: db)
            }
            let reason = minutes > 0 ? ActivityReason.ownerPaused : ActivityReason.ownerResumed
            try await store.activity.add(
                ActivityEntry(customerID: customerID, eventKind: "dashboard", summary: nil, outcome: ActivityOutcome.paused.rawValue, reason: reason.rawValue),
                accountID: accountID, on: db)
        }
    }

    // MARK: Within a transaction

    /// Greetings that went out are marked; a hand-off that went out pauses the conversation, which waits for a person.
    private func delivered(greetings: [String], handOff: Int?, ruleID: UUID?, _ subject: Subject, on db: DatabaseConnection) async throws {
        try await store.conversations.markGreetings(greetings, accountID: subject.accountID, customerID: subject.customerID, on: db)
        guard let minutes = handOff else { return }
        try await store.conversations.pause(accountID: subject.accountID, customerID: subject.customerID, minutes: minutes, extendOnly: true, on: db)
        try await store.activity.add(
            ActivityEntry(
                customerID: subject.customerID, eventKind: subject.eventKind, summary: nil, outcome: ActivityOutcome.paused.rawValue, ruleID: ruleID,
                reason: ActivityReason.handOff.rawValue, mid: subject.mid),
            accountID: subject.accountID, on: db)
        try await store.activity.count([CountMetric.handOffs], accountID: subject.accountID, on: db)
    }

    private func move(_ replyID: Int64, from: ReplyState, to: ReplyState, error: String? = nil, on db: DatabaseConnection) async throws {
        guard try await store.conversations.transition(replyID: replyID, from: from.rawValue, to: to.rawValue, error: error, on: db) else { throw Self.changedUnderUs }
    }

    private func add(
        _ subject: Subject, outcome: ActivityOutcome, source: String? = nil, ruleID: UUID? = nil, reason: String?, on db: DatabaseConnection
    ) async throws {
        try await store.activity.add(
            ActivityEntry(customerID: subject.customerID, eventKind: subject.eventKind, summary: subject.summary, outcome: outcome.rawValue, source: source,
                          ruleID: ruleID, reason: reason, mid: subject.mid),
            accountID: subject.accountID, on: db)
    }
}
