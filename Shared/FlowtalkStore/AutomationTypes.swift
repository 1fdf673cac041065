import Foundation
import Logging
import PostgresNIO
import ReplyRules

// What a business sets up for its replies: owned by AutomationStore (`reply_rules`, `account_settings`, `ice_breakers`).

/// A keyword rule as stored, with its id and timestamps.
package struct StoredRule: Sendable, Equatable {
    package var id: UUID
    package var keywords: [String]
    package var matchType: MatchType
    package var negativeKeywords: [String]
    package var priority: Int
    package var enabled: Bool
    package var reply: String
    package var createdAt: Date
    package var updatedAt: Date
    package var trigger: RuleTrigger = .message
    package var handOffMinutes: Int? = nil
    package var optionKind: OptionKind? = nil
    package var options: [ReplyOption] = []

    /// The matcher's view of it.
    package var rule: ReplyRule {
        ReplyRule(
            id: id.uuidString.lowercased(), keywords: keywords, matchType: matchType, negativeKeywords: negativeKeywords, priority: priority,
            enabled: enabled, reply: reply, createdAt: createdAt, trigger: trigger, handOffMinutes: handOffMinutes,
            optionKind: optionKind, options: options)
    }
}

/// An account's automation settings.
package struct AccountSettings: Sendable, Equatable {
    package var cooldownSeconds: Int = 10
    package var humanPauseMinutes: Int = 60
    package var aiEnabled = false
    package var businessDescription = ""
    package var aiTone = ""
    package var fallbackText = ""
    package var aiMemory = false
    /// AI calls per UTC day.
    package var aiDailyBudget = 200
    /// Sent once per customer with their first direct message: before the answer, or instead of it (`welcomeInstead`).
    package var welcomeText = ""
    package var welcomeInstead = false
    /// Sent once per closed period outside `businessHoursJSON` (in `timeZone`); `rulesOutOfHours`: whether rules and
    /// the AI still answer then.
    package var awayText = ""
    package var businessHoursJSON = "{}"
    package var timeZone = "UTC"
    package var rulesOutOfHours = true
    /// Sent once per conversation before the first automated message.
    package var botDisclosureText = ""
    /// When the AI cannot help, hand the conversation to a person instead of sending the fallback.
    package var aiHandOff = false

    package init(cooldownSeconds: Int = 10, humanPauseMinutes: Int = 60, aiEnabled: Bool = false, businessDescription: String = "",
                 aiTone: String = "", fallbackText: String = "", aiMemory: Bool = false, aiDailyBudget: Int = 200) {
        self.cooldownSeconds = cooldownSeconds
        self.humanPauseMinutes = humanPauseMinutes
        self.aiEnabled = aiEnabled
        self.businessDescription = businessDescription
        self.aiTone = aiTone
        self.fallbackText = fallbackText
        self.aiMemory = aiMemory
        self.aiDailyBudget = aiDailyBudget
    }
}

/// An Ice Breaker question and the answer sent when a customer taps it.
package struct IceBreaker: Sendable, Equatable, Codable {
    package var position: Int
    package var question: String
    package var answer: String
    /// What Instagram sends back in the postback when the question is tapped.
    package var payload: String

    package init(position: Int, question: String, answer: String, payload: String) {
        self.position = position
        self.question = question
        self.answer = answer
        self.payload = payload
    }
}

extension IceBreaker {
    /// Replaces an account's Ice Breakers with `list`, in the caller's transaction.
    package static func replaceAll(_ list: [IceBreaker], accountID: UUID, on db: DatabaseConnection, logger: Logger) async throws {
        try await db.query("DELETE FROM ice_breakers WHERE account_id = \(accountID)", logger: logger)
        for item in list {
            try await db.query(
                """
                INSERT INTO ice_breakers (account_id, position, question, answer, payload)
                VALUES (\(accountID), \(Int16(item.position)), \(item.question), \(item.answer), \(item.payload))
                """, logger: logger)
        }
    }
}
