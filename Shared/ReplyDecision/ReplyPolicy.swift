import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import Foundation
import ReplyRules

/// Everything the decision about a customer's message depends on, read before it is taken.
package struct ReplyFacts: Sendable {
    package var kind: InboundEvent.Kind
    package var customerID: String
    package var text: String?
    package var hasAttachments = false
    package var eventTime: Date
    /// The connected Instagram account (the business).
    package var businessID: String
    package var connectionActive = true
    package var pausedUntil: Date? = nil
    /// When this customer was last sent the candidate's answer (`ReplyPlan.answerKey`), if ever.
    package var lastSameAnswerAt: Date? = nil
    package var cooldownSeconds = 0
    package var aiEnabled = false
    /// A reply to the business's story or a story mention: answered by story rules only, never by the AI.
    package var isStory = false
    /// The tapped Ice Breaker's answer or the matching rule's, if any (`ReplyPolicy.candidate`).
    package var candidate: ReplyPlan? = nil

    package init(
        kind: InboundEvent.Kind, customerID: String, text: String?, hasAttachments: Bool = false, eventTime: Date, businessID: String,
        connectionActive: Bool = true, pausedUntil: Date? = nil, lastSameAnswerAt: Date? = nil, cooldownSeconds: Int = 0, aiEnabled: Bool = false,
        isStory: Bool = false, candidate: ReplyPlan? = nil
    ) {
        self.kind = kind
        self.customerID = customerID
        self.text = text
        self.hasAttachments = hasAttachments
        self.eventTime = eventTime
        self.businessID = businessID
        self.connectionActive = connectionActive
        self.pausedUntil = pausedUntil
        self.lastSameAnswerAt = lastSameAnswerAt
        self.cooldownSeconds = cooldownSeconds
        self.aiEnabled = aiEnabled
        self.isStory = isStory
        self.candidate = candidate
    }
}

/// The decision: no I/O, so every reason is tested with plain values (DispatchServiceTests). Dispatch takes it for
/// each customer event; the dashboard's "Try the bot" takes the same one without sending anything.
package enum ReplyPolicy {
    /// The 24-hour window of Instagram's messaging policy.
    package static let window: TimeInterval = 24 * 3600

    package enum Verdict: Equatable, Sendable {
        case skip(ActivityReason)
        case reply(ReplyPlan)
        /// No rule answers and the account's AI is on: the AI path decides (its limits need the database).
        case askAI
    }

    /// In order: the business writing to itself, a connection that needs reconnecting, Instagram's 24-hour window, a
    /// person answering; then the Ice Breaker or rule answer (unless the customer got that same answer less than
    /// `cooldown_seconds` ago: the cooldown), the AI, or nothing. A new question is never held back by the cooldown.
    package static func decide(_ facts: ReplyFacts, now: Date) -> Verdict {
        if let gate = gate(facts, now: now) { return .skip(gate) }
        if let candidate = facts.candidate {
            if let last = facts.lastSameAnswerAt, now.timeIntervalSince(last) < Double(facts.cooldownSeconds) { return .skip(.cooldown) }
            return .reply(candidate)
        }
        // A story event no story rule answered: not the AI's (it would not know the story), so no rule.
        if facts.isStory { return .skip(.noRule) }
        guard let text = facts.text, !text.isEmpty else { return .skip(facts.hasAttachments ? .attachmentOnly : .noText) }
        return facts.kind == .message && facts.aiEnabled ? .askAI : .skip(.noRule)
    }

    /// The reasons nothing at all is sent, not even a welcome or an away message.
    package static func gate(_ facts: ReplyFacts, now: Date) -> ActivityReason? {
        if facts.customerID == facts.businessID { return .fromBusiness }
        if !facts.connectionActive { return .needsReconnect }
        if now.timeIntervalSince(facts.eventTime) > window { return .outsideWindow }
        if let paused = facts.pausedUntil, paused > now { return .humanActive }
        return nil
    }

    /// An Ice Breaker tap answers with that Ice Breaker's answer; a tap on a quick reply or button (`tapPayload`) with
    /// the rule its option names, whatever that rule's keywords; anything else goes to the keyword rules.
    /// `trigger`: a direct message, a reply to the business's story or a story mention; only rules answering it take part,
    /// and a story rule without keywords answers a mention that has no text.
    package static func candidate(
        kind: InboundEvent.Kind, postbackPayload: String?, text: String?, iceBreakers: [IceBreaker], matcher: RuleMatcher, trigger: RuleTrigger = .message,
        tapPayload: String? = nil
    ) -> ReplyPlan? {
        if kind == .postback, let payload = postbackPayload, let tapped = iceBreakers.first(where: { $0.payload == payload }) {
            return ReplyPlan(text: tapped.answer, source: "ice_breaker", iceBreaker: tapped.position)
        }
        if let tap = OptionPayload.parse(tapPayload), let match = matcher.tapped(ruleID: tap.nextRuleID, title: text ?? "") {
            var plan = ReplyPlan(match)
            plan.tap = tap
            return plan
        }
        let found: RuleMatch?
        if trigger != .message {
            found = matcher.match(text ?? "", trigger: trigger)
        } else if let text, !text.isEmpty {
            found = matcher.match(text, trigger: trigger)
        } else {
            found = nil
        }
        return found.map(ReplyPlan.init)
    }
}
