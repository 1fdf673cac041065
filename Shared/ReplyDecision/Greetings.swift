import FlowtalkCore
import FlowtalkStore
import Foundation

/// The once-only messages around an answer: the bot disclosure (once per conversation, before the first automated
/// message), the welcome (once per customer, with their first direct message) and the away message (outside business
/// hours, once per closed period). No I/O: dispatch and "Try the bot" both take these decisions from plain values.
package enum Greetings {
    package struct Plan: Sendable, Equatable {
        /// The welcome and away messages due now (the disclosure is added once it is known something is sent).
        package var due: [Greeting] = []
        /// False when no rule or AI answer may go out: outside business hours with `rules_out_of_hours` off, or a welcome
        /// sent instead of the answer.
        package var answerAllowed = true
        /// Outside business hours.
        package var closed = false

        package init() {}
    }

    /// What is due for an event of `kind` (a story mention gets no welcome and no away message; the welcome goes only
    /// with a direct message that began the conversation).
    package static func plan(settings: AccountSettings, conversation: ConversationState, now: Date, kind: InboundEvent.Kind, isMention: Bool) -> Plan {
        var plan = Plan()
        let hours = BusinessHours.stored(settings.businessHoursJSON)
        let zone = TimeZone(identifier: settings.timeZone) ?? TimeZone(identifier: "UTC")!
        if let closedSince = hours.closedSince(now, timeZone: zone) {
            plan.closed = true
            plan.answerAllowed = settings.rulesOutOfHours
            if !settings.awayText.isEmpty && !isMention && (conversation.awaySentAt.map { $0 < closedSince } ?? true) {
                plan.due.append(Greeting(.away, settings.awayText))
            }
        }
        // A new customer: this event began the conversation (a customer who wrote before, or whose conversation a person
        // began, is not new), and it is a direct message.
        if !settings.welcomeText.isEmpty && conversation.isNew && conversation.welcomedAt == nil && kind == .message && !isMention {
            plan.due.insert(Greeting(.welcome, settings.welcomeText), at: 0)
            if settings.welcomeInstead { plan.answerAllowed = false }
        }
        return plan
    }

    /// The plan to send: the answer (nil for none) with what is due before it, or the greetings alone; nil when nothing
    /// is sent at all. The disclosure comes first when this conversation has not had it.
    package static func attach(_ answer: ReplyPlan?, _ plan: Plan, settings: AccountSettings, conversation: ConversationState) -> ReplyPlan? {
        var result: ReplyPlan
        if let answer {
            result = answer
        } else if !plan.due.isEmpty {
            // Greetings alone: logged and counted as the welcome (or the away message) they are.
            result = ReplyPlan(text: "", source: plan.due.contains { $0.kind == .welcome } ? "welcome" : "away")
        } else {
            return nil
        }
        result.greetings = plan.due
        if !settings.botDisclosureText.isEmpty && conversation.disclosedAt == nil {
            result.greetings.insert(Greeting(.disclosure, settings.botDisclosureText), at: 0)
        }
        return result
    }

    /// The greetings a reply was decided with (`kinds`, stored on its row), as they are to be sent now: with today's
    /// texts, without those delivered since the reply was decided (`decidedAt`: an earlier part of it went out) or whose
    /// text was emptied meanwhile.
    package static func restore(_ kinds: [String], settings: AccountSettings, conversation: ConversationState, decidedAt: Date?) -> [Greeting] {
        kinds.compactMap { raw -> Greeting? in
            guard let kind = Greeting.Kind(rawValue: raw) else { return nil }
            let (text, mark) = switch kind {
            case .disclosure: (settings.botDisclosureText, conversation.disclosedAt)
            case .welcome: (settings.welcomeText, conversation.welcomedAt)
            case .away: (settings.awayText, conversation.awaySentAt)
            }
            if text.isEmpty { return nil }
            if let mark, let decidedAt, mark >= decidedAt { return nil }
            if kind != .away, mark != nil, decidedAt == nil { return nil }
            return Greeting(kind, text)
        }
    }
}
