import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import Foundation
import Hummingbird
import ReplyRules

extension AutomationController {
    /// The body of POST and PUT /api/rules.
    struct RuleInput: Decodable {
        let keywords: [String]
        let match_type: String?
        let negative_keywords: [String]?
        let priority: Int?
        let enabled: Bool?
        let reply: String
        /// `message` (default), `story_reply`, `story_mention` or `any`.
        let trigger: String?
        /// `reply` (default) or `hand_off`: after the reply, the bot steps back for `hand_off_minutes` (default 60).
        let action: String?
        let hand_off_minutes: Int?
        /// Up to 13 quick replies or up to 3 buttons (not both), each naming the rule that answers its tap.
        let quick_replies: [OptionBody]?
        let buttons: [OptionBody]?

        /// `existing`: on PUT, the stored rule, whose trigger and action stay when the body leaves them out (a client
        /// from before they existed must not turn a story or hand-off rule into a plain one).
        func rule(existing: StoredRule? = nil) throws -> ReplyRule {
            guard let type = MatchType(rawValue: match_type ?? "contains") else {
                throw APIError.invalid("match_type", "Choose how the keywords match: contains, exact, starts with, any word or pattern.", code: "invalid_rule")
            }
            guard let trigger = RuleTrigger(rawValue: self.trigger ?? existing?.trigger.rawValue ?? "message") else {
                throw APIError.invalid(
                    "trigger", "Choose what the rule answers: direct messages, replies to your stories, story mentions or any of them.", code: "invalid_rule")
            }
            let handOff: Int?
            switch action ?? (existing?.handOffMinutes == nil ? "reply" : "hand_off") {
            case "reply": handOff = nil
            case "hand_off": handOff = hand_off_minutes ?? existing?.handOffMinutes ?? 60
            default: throw APIError.invalid("action", "Choose what the rule does: reply, or reply and hand the conversation to a person.", code: "invalid_rule")
            }
            let (optionKind, options) = try options(existing: existing)
            let priority = priority ?? 0
            guard (-1000...1000).contains(priority) else {
                throw APIError.invalid("priority", "The priority must be a whole number from -1,000 to 1,000.", code: "invalid_rule")
            }
            let rule = ReplyRule(
                id: "", keywords: keywords.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }, matchType: type,
                negativeKeywords: (negative_keywords ?? []).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty },
                priority: priority, enabled: enabled ?? true, reply: reply.trimmingCharacters(in: .whitespacesAndNewlines), trigger: trigger,
                handOffMinutes: handOff, optionKind: optionKind, options: options)
            let problems = RuleValidator.fieldProblems(rule)
            guard problems.isEmpty else {
                // The first problem's field, so the form can point at it; every problem in words.
                throw APIError.invalid(problems[0].field, problems.map(\.message).joined(separator: " "), code: "invalid_rule")
            }
            return rule
        }

        /// The options in the body (a body without either keeps the stored ones); the ids must be well formed here,
        /// and rules of the account (`AutomationController.checkOptionTargets`).
        private func options(existing: StoredRule?) throws -> (OptionKind?, [ReplyOption]) {
            if quick_replies == nil && buttons == nil { return (existing?.optionKind, existing?.options ?? []) }
            let quick = quick_replies ?? [], buttons = buttons ?? []
            if !quick.isEmpty && !buttons.isEmpty {
                throw APIError.invalid("buttons", "Use quick replies or buttons, not both.", code: "invalid_rule")
            }
            let kind: OptionKind? = !quick.isEmpty ? .quickReplies : !buttons.isEmpty ? .buttons : nil
            let list = try (quick.isEmpty ? buttons : quick).map { option -> ReplyOption in
                let title = option.title.trimmingCharacters(in: .whitespacesAndNewlines)
                guard let id = option.next_rule_id, !id.isEmpty else {
                    throw APIError.invalid(kind!.rawValue, "Choose the rule that answers option “\(title)”.", code: "invalid_rule")
                }
                guard let uuid = UUID(uuidString: id) else {
                    throw APIError.invalid(kind!.rawValue, "Option “\(title)” leads to a rule that does not exist.", code: "invalid_rule")
                }
                return ReplyOption(title: title, nextRuleID: uuid.uuidString.lowercased())
            }
            return (kind, list)
        }
    }

    /// One quick reply or button: its title and the rule that answers a tap on it.
    struct OptionBody: Codable {
        let title: String
        let next_rule_id: String?
    }

    /// A rule as the API shows it.
    struct RuleOutput: Encodable {
        let id: String
        let keywords: [String]
        let match_type: String
        let negative_keywords: [String]
        let priority: Int
        let enabled: Bool
        let reply: String
        let created_at: Date
        let updated_at: Date
        let trigger: String
        let action: String
        /// Only for a hand-off rule.
        let hand_off_minutes: Int?
        let quick_replies: [OptionBody]
        let buttons: [OptionBody]

        init(_ stored: StoredRule) {
            let options = stored.options.map { OptionBody(title: $0.title, next_rule_id: $0.nextRuleID) }
            quick_replies = stored.optionKind == .quickReplies ? options : []
            buttons = stored.optionKind == .buttons ? options : []
            trigger = stored.trigger.rawValue
            action = stored.handOffMinutes == nil ? "reply" : "hand_off"
            hand_off_minutes = stored.handOffMinutes
            id = stored.id.uuidString.lowercased()
            keywords = stored.keywords
            match_type = stored.matchType.rawValue
            negative_keywords = stored.negativeKeywords
            priority = stored.priority
            enabled = stored.enabled
            reply = stored.reply
            created_at = stored.createdAt
            updated_at = stored.updatedAt
        }
    }
}
