import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import Foundation
import ReplyRules

/// What to send and why.
struct ReplyPlan: Sendable, Equatable {
    let text: String
    /// `rule`, `ai`, `fallback` or `ice_breaker` (`replies.source`, `activity.source`).
    let source: String
    var ruleID: UUID? = nil
    /// The Ice Breaker's position, when one was tapped.
    var iceBreaker: Int? = nil
    /// Why this was sent instead of an AI answer (fallback text), for the activity log.
    var note: String? = nil
    /// A hand-off rule's: once sent, the bot steps back this many minutes and the conversation waits for a person.
    var handOffMinutes: Int? = nil

    /// Which answer this is, for the cooldown (`replies.answer_key`): the same rule or Ice Breaker again is the same
    /// answer; an AI answer never is (each answers its own question).
    var answerKey: String? {
        if let iceBreaker { return "ice_breaker:\(iceBreaker)" }
        switch source {
        case "ai": return nil
        case "fallback": return "fallback"
        default: return ruleID.map { "rule:\($0.uuidString.lowercased())" }
        }
    }

    /// The hourly counts a sent reply adds.
    var counts: [String] {
        if let iceBreaker { return [CountMetric.replied(source: "ice_breaker"), CountMetric.iceBreaker(iceBreaker)] }
        switch source {
        case "ai": return [CountMetric.replied(source: "ai")]
        case "fallback": return [CountMetric.replied(source: "fallback")] + (note.map { [CountMetric.fallback($0)] } ?? [])
        default: return [CountMetric.replied(source: "rule")] + (ruleID.map { [CountMetric.rule($0.uuidString.lowercased())] } ?? [])
        }
    }
}

/// Everything the decision about a customer's message depends on, read before it is taken.
struct ReplyFacts: Sendable {
    var kind: InboundEvent.Kind
    var customerID: String
    var text: String?
    var hasAttachments = false
    var eventTime: Date
    /// The connected Instagram account (the business).
    var businessID: String
    var connectionActive = true
    var pausedUntil: Date? = nil
    /// When this customer was last sent the candidate's answer (`ReplyPlan.answerKey`), if ever.
    var lastSameAnswerAt: Date? = nil
    var cooldownSeconds = 0
    var aiEnabled = false
    /// A reply to the business's story or a story mention: answered by story rules only, never by the AI.
    var isStory = false
    /// The tapped Ice Breaker's answer or the matching rule's, if any (`ReplyPolicy.candidate`).
    var candidate: ReplyPlan? = nil
}

/// The decision: no I/O, so every reason is tested with plain values (DispatchServiceTests).
enum ReplyPolicy {
    /// The 24-hour window of Instagram's messaging policy.
    static let window: TimeInterval = 24 * 3600

    enum Verdict: Equatable {
        case skip(ActivityReason)
        case reply(ReplyPlan)
        /// No rule answers and the account's AI is on: the AI path decides (its limits need the database).
        case askAI
    }

    /// In order: the business writing to itself, a connection that needs reconnecting, Instagram's 24-hour window, a
    /// person answering; then the Ice Breaker or rule answer (unless the customer got that same answer less than
    /// `cooldown_seconds` ago: the cooldown), the AI, or nothing. A new question is never held back by the cooldown.
    static func decide(_ facts: ReplyFacts, now: Date) -> Verdict {
        if facts.customerID == facts.businessID { return .skip(.fromBusiness) }
        if !facts.connectionActive { return .skip(.needsReconnect) }
        if now.timeIntervalSince(facts.eventTime) > window { return .skip(.outsideWindow) }
        if let paused = facts.pausedUntil, paused > now { return .skip(.humanActive) }
        if let candidate = facts.candidate {
            if let last = facts.lastSameAnswerAt, now.timeIntervalSince(last) < Double(facts.cooldownSeconds) { return .skip(.cooldown) }
            return .reply(candidate)
        }
        // A story event no story rule answered: not the AI's (it would not know the story), so no rule.
        if facts.isStory { return .skip(.noRule) }
        guard let text = facts.text, !text.isEmpty else { return .skip(facts.hasAttachments ? .attachmentOnly : .noText) }
        return facts.kind == .message && facts.aiEnabled && !facts.isStory ? .askAI : .skip(.noRule)
    }

    /// An Ice Breaker tap answers with that Ice Breaker's answer first; anything else goes to the keyword rules.
    /// `trigger`: a direct message, a reply to the business's story or a story mention; only rules answering it take part,
    /// and a story rule without keywords answers a mention that has no text.
    static func candidate(
        kind: InboundEvent.Kind, postbackPayload: String?, text: String?, iceBreakers: [IceBreaker], matcher: RuleMatcher, trigger: RuleTrigger = .message
    ) -> ReplyPlan? {
        if kind == .postback, let payload = postbackPayload, let tapped = iceBreakers.first(where: { $0.payload == payload }) {
            return ReplyPlan(text: tapped.answer, source: "ice_breaker", iceBreaker: tapped.position)
        }
        let found: RuleMatch?
        if trigger != .message {
            found = matcher.match(text ?? "", trigger: trigger)
        } else if let text, !text.isEmpty {
            found = matcher.match(text, trigger: trigger)
        } else {
            found = nil
        }
        guard let match = found else { return nil }
        return ReplyPlan(text: match.reply, source: "rule", ruleID: UUID(uuidString: match.ruleID), handOffMinutes: match.handOffMinutes)
    }
}
