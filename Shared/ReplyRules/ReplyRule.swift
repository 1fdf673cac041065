import Foundation

/// How a rule's keywords are compared with a message (all after `TextNormalizer`).
package enum MatchType: String, Codable, Sendable, CaseIterable {
    /// A keyword appears as whole words anywhere in the message (the default).
    case contains
    /// The whole message is a keyword.
    case exact
    /// The message begins with a keyword.
    case startsWith = "starts_with"
    /// Any single word of any keyword appears in the message.
    case anyWord = "any_word"
    /// A keyword is a regular expression in RE2 syntax, matched in linear time against the normalised message (see
    /// `LinearRegex` and `RuleValidator`).
    case regex
}

/// What kind of customer event a rule answers (`reply_rules.trigger`, migration 21).
package enum RuleTrigger: String, Codable, Sendable, CaseIterable {
    /// Direct messages (the default).
    case message
    /// A DM that replies to the business's story (`message.reply_to.story`).
    case storyReply = "story_reply"
    /// A story of the customer's that mentions the business (`attachments[].type = "story_mention"`).
    case storyMention = "story_mention"
    case any

    /// Whether a rule with this trigger answers an event of kind `event` (never `.any` itself).
    package func answers(_ event: RuleTrigger) -> Bool { self == .any || self == event }
}

/// One option of a rule's answer: a quick reply or a postback button, with the rule that answers its tap.
package struct ReplyOption: Codable, Sendable, Equatable {
    package var title: String
    /// The id of the rule (lower-case) that answers a tap on this option, whatever that rule's keywords.
    package var nextRuleID: String

    package init(title: String, nextRuleID: String) {
        self.title = title
        self.nextRuleID = nextRuleID
    }
}

/// How a rule's options are shown: quick replies (up to 13 chips under the text) or buttons (up to 3, a button template).
package enum OptionKind: String, Codable, Sendable {
    case quickReplies = "quick_replies"
    case buttons
}

/// A keyword rule as the matcher sees it.
package struct ReplyRule: Codable, Sendable, Equatable {
    package var id: String
    package var keywords: [String]
    package var matchType: MatchType
    /// If any of these appears (whole words), the rule does not answer.
    package var negativeKeywords: [String]
    /// Higher answers first; ties go to the older rule.
    package var priority: Int
    package var enabled: Bool
    package var reply: String
    package var createdAt: Date
    /// What it answers; a story trigger's rule may have no keyword, and then answers every such event.
    package var trigger: RuleTrigger
    /// Set for a hand-off rule: after its reply goes out, the bot steps back from the conversation for this many minutes
    /// and the conversation waits for a person (`reply_rules.action = 'hand_off'`, migration 22).
    package var handOffMinutes: Int?
    /// Quick replies or buttons sent with the reply (none when `optionKind` is nil).
    package var optionKind: OptionKind?
    package var options: [ReplyOption]

    package init(
        id: String, keywords: [String], matchType: MatchType = .contains, negativeKeywords: [String] = [], priority: Int = 0,
        enabled: Bool = true, reply: String, createdAt: Date = Date(), trigger: RuleTrigger = .message, handOffMinutes: Int? = nil,
        optionKind: OptionKind? = nil, options: [ReplyOption] = []
    ) {
        self.optionKind = options.isEmpty ? nil : optionKind
        self.options = optionKind == nil ? [] : options
        self.trigger = trigger
        self.handOffMinutes = handOffMinutes
        self.id = id
        self.keywords = keywords
        self.matchType = matchType
        self.negativeKeywords = negativeKeywords
        self.priority = priority
        self.enabled = enabled
        self.reply = reply
        self.createdAt = createdAt
    }
}

/// Which rule answers a message, and why.
package struct RuleMatch: Sendable, Equatable {
    package let ruleID: String
    package let reply: String
    package let matchType: MatchType
    /// The keyword (as the business wrote it) that matched; empty for a story rule without keywords.
    package let keyword: String
    package var trigger: RuleTrigger = .message
    /// The rule hands the conversation to a person for this many minutes after its reply.
    package var handOffMinutes: Int? = nil
    /// The quick replies or buttons sent with the reply.
    package var optionKind: OptionKind? = nil
    package var options: [ReplyOption] = []
    /// Set when a tap on an option of rule `tappedRuleID` chose this rule (not its keywords): that option's title.
    package var tappedOption: String? = nil

    package init(ruleID: String, reply: String, matchType: MatchType, keyword: String, trigger: RuleTrigger = .message) {
        self.ruleID = ruleID
        self.reply = reply
        self.matchType = matchType
        self.keyword = keyword
        self.trigger = trigger
    }

    /// A sentence for the dashboard's rule tester and the activity log.
    package var explanation: String {
        if let tappedOption { return "the customer tapped “\(tappedOption)”" }
        if keyword.isEmpty { return trigger == .storyMention ? "it answers every story mention" : "it answers every reply to your stories" }
        return switch matchType {
        case .contains: "the message contains “\(keyword)”"
        case .exact: "the message is exactly “\(keyword)”"
        case .startsWith: "the message starts with “\(keyword)”"
        case .anyWord: "the message contains the word “\(keyword)”"
        case .regex: "the message matches the pattern “\(keyword)”"
        }
    }
}

/// Fills a reply's variables. `{username}` is the only one, and only when it was fetched; otherwise it is left out.
package enum ReplyTemplate {
    package static func render(_ reply: String, username: String? = nil) -> String {
        guard reply.contains("{username}") else { return reply }
        let filled = reply.replacingOccurrences(of: "{username}", with: username ?? "")
        guard username == nil else { return filled }
        // "Hi {username}, welcome" without a name reads "Hi, welcome", not "Hi , welcome".
        var tidy = filled
        while tidy.contains("  ") { tidy = tidy.replacingOccurrences(of: "  ", with: " ") }
        for punctuation in [",", ".", "!", "?"] { tidy = tidy.replacingOccurrences(of: " " + punctuation, with: punctuation) }
        return tidy.trimmingCharacters(in: .whitespaces)
    }
}
