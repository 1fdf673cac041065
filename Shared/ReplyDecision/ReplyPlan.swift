import FlowtalkContracts
import Foundation
import ReplyRules

/// What to send and why.
package struct ReplyPlan: Sendable, Equatable {
    /// The answer; empty when only greetings go out (a welcome instead of the answer, an away message).
    package var text: String
    /// `rule`, `ai`, `fallback`, `ice_breaker`, `welcome` or `away` (`replies.source`, `activity.source`).
    package var source: String
    package var ruleID: UUID? = nil
    /// The Ice Breaker's position, when one was tapped.
    package var iceBreaker: Int? = nil
    /// Why this was sent instead of an AI answer (fallback text), for the activity log.
    package var note: String? = nil
    /// A hand-off rule's: once sent, the bot steps back this many minutes and the conversation waits for a person.
    package var handOffMinutes: Int? = nil
    /// The answer's quick replies or buttons.
    package var optionKind: OptionKind? = nil
    package var options: [ReplyOption] = []
    /// The quick reply or button whose tap chose this answer.
    package var tap: OptionPayload.Tap? = nil
    /// The once-only messages sent before the answer (disclosure, welcome, away), in order.
    package var greetings: [Greeting] = []
    /// Why the rule answered, in words (the rule tester, "Try the bot").
    package var explanation: String? = nil

    package init(text: String, source: String, ruleID: UUID? = nil, iceBreaker: Int? = nil, note: String? = nil, handOffMinutes: Int? = nil) {
        self.text = text
        self.source = source
        self.ruleID = ruleID
        self.iceBreaker = iceBreaker
        self.note = note
        self.handOffMinutes = handOffMinutes
    }

    /// A rule's answer.
    package init(_ match: RuleMatch) {
        self.init(text: match.reply, source: "rule", ruleID: UUID(uuidString: match.ruleID), handOffMinutes: match.handOffMinutes)
        optionKind = match.optionKind
        options = match.options
        explanation = match.explanation
    }

    /// Which answer this is, for the cooldown (`replies.answer_key`): the same rule or Ice Breaker again is the same
    /// answer; an AI answer never is (each answers its own question), nor a tap (the customer asked for it).
    package var answerKey: String? {
        if let iceBreaker { return "ice_breaker:\(iceBreaker)" }
        if tap != nil { return nil }
        switch source {
        case "ai", "welcome", "away": return nil
        case "fallback": return "fallback"
        default: return ruleID.map { "rule:\($0.uuidString.lowercased())" }
        }
    }

    /// The hourly counts a sent reply adds.
    package var counts: [String] {
        let greetingCounts = greetings.map { CountMetric.greeting($0.kind.rawValue) }
        if let iceBreaker { return [CountMetric.replied(source: "ice_breaker"), CountMetric.iceBreaker(iceBreaker)] + greetingCounts }
        switch source {
        case "ai", "welcome", "away": return [CountMetric.replied(source: source)] + greetingCounts
        case "fallback": return [CountMetric.replied(source: "fallback")] + (note.map { [CountMetric.fallback($0)] } ?? []) + greetingCounts
        default: return [CountMetric.replied(source: "rule")] + (ruleID.map { [CountMetric.rule($0.uuidString.lowercased())] } ?? []) + greetingCounts
        }
    }

    /// Every text the customer receives, in order: greetings, then the answer.
    package var messages: [String] { greetings.map(\.text) + (text.isEmpty ? [] : [text]) }

    /// The options as Instagram receives them: each with the payload that routes its tap.
    package var outgoingOptions: [(title: String, payload: String)] {
        guard let rule = ruleID?.uuidString.lowercased() else { return [] }
        return options.enumerated().map { position, option in
            (option.title, OptionPayload.make(ruleID: rule, position: position, nextRuleID: option.nextRuleID))
        }
    }
}

/// A message sent once before an answer.
package struct Greeting: Sendable, Equatable {
    package enum Kind: String, Sendable {
        /// "You are chatting with an automated assistant": once per conversation.
        case disclosure
        /// Once per customer, with their first direct message.
        case welcome
        /// Outside business hours: once per closed period.
        case away
    }

    package let kind: Kind
    package let text: String

    package init(_ kind: Kind, _ text: String) {
        self.kind = kind
        self.text = text
    }
}
