import AIReplies
import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import Foundation
import Logging
import Metrics
import NIOCore
import ReplyRules
import Tracing

/// Handles inbound Instagram events: decides whether and what to answer (ReplyPolicy), answers through a ReplySender,
/// and records what happened (ReplyLedger) — never twice for one message (DESIGN §5).
struct InboundHandler: Sendable {
    let store: DispatchStores
    let ledger: ReplyLedger
    let sender: any ReplySender
    let vault: TokenVault
    let matchers: MatcherCache
    let ai: AIResponder

    init(store: DispatchStores, sender: any ReplySender, vault: TokenVault, ai: AIResponder, metricsFactory: any MetricsFactory = MetricsSystem.factory) {
        self.store = store
        self.ledger = ReplyLedger(store: store, metrics: ReplyMetrics(factory: metricsFactory))
        self.sender = sender
        self.vault = vault
        self.ai = ai
        self.matchers = MatcherCache(store: store)
    }

    /// The job handlers for every inbound kind ingest queues.
    var handlers: [String: JobHandler] {
        let handle: JobHandler = { job, logger in try await self.handle(job, logger: logger) }
        return Dictionary(uniqueKeysWithValues: InboundEventJob.kinds.map { ($0, handle) })
    }

    func handle(_ job: ClaimedJob, logger: Logger) async throws {
        let event: InboundEvent
        do {
            event = try JSONDecoder().decode(InboundEvent.self, from: Data(job.payload.readableBytesView))
        } catch {
            throw JobFailure.permanent("undecodable payload")
        }
        // The trace ingest began at the webhook continues here (a new one when the job carries none): one consumer span
        // per run, with the decision, the Send API and the AI calls inside it.
        try await withSpan("dispatch \(job.kind)", context: TraceContext.context(parent: event.traceParent, state: event.traceState), ofKind: .consumer) {
            span in
            span.attributes["flowtalk.job.kind"] = job.kind
            span.attributes["flowtalk.job.attempt"] = Int(job.attempt)
            span.attributes["flowtalk.job.wait_ms"] = Int(job.waitSeconds * 1000)
            try await handle(event, job: job, logger: logger)
        }
    }

    private func handle(_ event: InboundEvent, job: ClaimedJob, logger: Logger) async throws {
        guard let connection = try await store.connections.connection(instagramUserID: event.accountID) else {
            // Unknown or disconnected account: acknowledged and dropped (there is no account to record it for).
            logger.notice("Event for unknown account dropped", metadata: ["event.kind": "\(event.kind.rawValue)"])
            return
        }
        let subject = ReplyLedger.Subject(
            // A story reply or mention is logged as such ("replied to your story", "mentioned you in a story").
            accountID: connection.accountID, customerID: event.customerID ?? "", eventKind: event.logKind, summary: Self.text(of: event),
            mid: event.mid)
        guard let mid = event.mid, event.customerID != nil else {
            try await ledger.recordOnce(mid: event.mid ?? InboundEventJob.dedupeKey(event), subject, outcome: .skipped, reason: .incompleteEvent)
            return
        }
        switch event.kind {
        case .echo:
            try await handleEcho(event, mid: mid, subject, connection, logger: logger)
        case .message, .postback:
            // Unsent before it was answered (its unsend waits behind this job, or came while a retry waited): not answered.
            if event.kind == .message, try await store.conversations.unsendArrived(mid: mid) {
                try await skipUnsent(mid: mid, subject)
                logger.info("Message unsent before it was answered")
                return
            }
            try await handleMessage(event, mid: mid, subject, connection, job: job, logger: logger)
        case .edit:
            // A num_edit 0 edit carries no text; fetching the message through the Graph API is still to do.
            try await ledger.recordOnce(mid: mid, subject, outcome: .skipped, reason: .editWithoutText)
        case .deleted:
            try await ledger.unsent(mid: mid, subject)
        case .reaction:
            // Counted when the customer reacted to one of the bot's messages; never answered, never logged.
            guard event.reaction == "react", let reacted = event.replyToMID, try await store.conversations.isOwnMessage(mid: reacted, accountID: connection.accountID) else { return }
            try await ledger.countReaction(mid: mid, subject)
        }
    }

    /// The message was unsent before its reply went out: a reply parked for a retry (or waiting for the AI) ends skipped,
    /// and a message not decided yet is logged as skipped; neither keeps the text.
    private func skipUnsent(mid: String, _ subject: ReplyLedger.Subject) async throws {
        let quiet = ReplyLedger.Subject(accountID: subject.accountID, customerID: subject.customerID, eventKind: subject.eventKind, summary: nil, mid: mid)
        let reason = ActivityReason.messageDeleted
        if let existing = try await store.conversations.reply(inboundMID: mid) {
            switch ReplyState(rawValue: existing.state) {
            case .retry?, .pending?:
                try await ledger.skip(existing.id, from: ReplyState(rawValue: existing.state)!, reason: reason.rawValue, source: existing.source, quiet)
            case .sending?:
                // A run stopped mid-send: Instagram may have it. Unknown, as any interrupted send (an echo may confirm it).
                try await ledger.interrupted(existing, quiet)
            default:
                break
            }
        } else {
            try await ledger.recordOnce(mid: mid, quiet, outcome: .skipped, reason: reason)
        }
    }

    /// What the customer said: a message's text, or the tapped button's title (or payload).
    static func text(of event: InboundEvent) -> String? {
        event.kind == .postback ? (event.postbackTitle ?? event.postbackPayload) : event.text
    }

    // MARK: Echoes

    private func handleEcho(_ event: InboundEvent, mid: String, _ subject: ReplyLedger.Subject, _ connection: ConnectionRecord, logger: Logger)
        async throws
    {
        // Our own reply coming back: nothing to do. The conversation's jobs run in order, so the reply that sent it has
        // already recorded its message id by now.
        if try await store.conversations.isOwnMessage(mid: mid, accountID: connection.accountID) { return }
        if try await confirmInterruptedReply(event, mid: mid, customer: subject.customerID, connection, logger: logger) { return }
        let settings = try await store.automation.accountSettings(accountID: connection.accountID)
        try await ledger.pauseForHumanReply(mid: mid, subject, minutes: settings.humanPauseMinutes)
        logger.info("Conversation paused after a human reply")
    }
}

/// One compiled matcher per account, rebuilt only when the account's rules change.
actor MatcherCache {
    private let store: DispatchStores
    private var cache: [UUID: (version: String, matcher: RuleMatcher)] = [:]

    init(store: DispatchStores) { self.store = store }

    func matcher(for accountID: UUID) async throws -> RuleMatcher {
        let version = try await store.automation.rulesVersion(accountID: accountID)
        if let cached = cache[accountID], cached.version == version { return cached.matcher }
        let matcher = RuleMatcher(rules: try await store.automation.replyRules(accountID: accountID))
        cache[accountID] = (version, matcher)
        return matcher
    }
}
