import Foundation
import Logging
import NIOCore
import PostgresNIO
import ReplyRules

/// Rules, settings and Ice Breakers of one account. Every statement is scoped by the account id.
package struct AutomationStore: Sendable {
    package let client: Database
    package let logger: Logger
    /// The most rules one account may have.
    package static let maximumRules = 1_000
    /// The account has `maximumRules` already.
    package struct TooManyRules: Error { package init() {} }

    package init(client: PostgresClient, logger: Logger) {
        self.init(client: Database(client), logger: logger)
    }

    package init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    private static let ruleColumns =
        "id, keywords, match_type, negative_keywords, priority, enabled, reply, created_at, updated_at, trigger, CASE WHEN action = 'hand_off' THEN hand_off_minutes END, option_kind, option_titles, option_targets"

    private func rules(_ query: PostgresQuery) async throws -> [StoredRule] {
        var list: [StoredRule] = []
        for try await (id, keywords, type, negatives, priority, enabled, reply, created, updated, trigger, handOff, optionKind, titles, targets)
            in try await client.query(query, logger: logger)
            .decode((UUID, [String], String, [String], Int, Bool, String, Date, Date, String, Int?, String?, [String], [UUID]).self)
        {
            list.append(
                StoredRule(
                    id: id, keywords: keywords, matchType: MatchType(rawValue: type) ?? .contains, negativeKeywords: negatives, priority: priority,
                    enabled: enabled, reply: reply, createdAt: created, updatedAt: updated, trigger: RuleTrigger(rawValue: trigger) ?? .message,
                    handOffMinutes: handOff, optionKind: optionKind.flatMap(OptionKind.init(rawValue:)),
                    options: zip(titles, targets).map { ReplyOption(title: $0, nextRuleID: $1.uuidString.lowercased()) }))
        }
        return list
    }

    package func rules(accountID: UUID) async throws -> [StoredRule] {
        try await rules("SELECT \(unescaped: Self.ruleColumns) FROM reply_rules WHERE account_id = \(accountID) ORDER BY priority DESC, created_at, id")
    }

    /// The account's rules as the matcher takes them.
    package func replyRules(accountID: UUID) async throws -> [ReplyRule] { try await rules(accountID: accountID).map(\.rule) }

    /// A fingerprint of an account's rules that changes whenever any rule does (to know when to rebuild a matcher).
    package func rulesVersion(accountID: UUID) async throws -> String {
        let rows = try await client.query(
            "SELECT count(*)::text || ':' || COALESCE(max(updated_at)::text, '') FROM reply_rules WHERE account_id = \(accountID)", logger: logger)
        for try await version in rows.decode(String.self) { return version }
        return ""
    }

    /// The account's settings (the defaults when it never saved any).
    package func accountSettings(accountID: UUID) async throws -> AccountSettings {
        try await Self.settings(
            try await client.query("SELECT \(unescaped: Self.settingsColumns) FROM account_settings WHERE account_id = \(accountID)", logger: logger)
        ) ?? AccountSettings()
    }

    private static let settingsColumns =
        """
        cooldown_seconds, human_pause_minutes, ai_enabled, business_description, ai_tone, fallback_text, ai_memory, ai_daily_budget, welcome_text,
        welcome_mode, away_text, business_hours, time_zone, rules_out_of_hours, bot_disclosure_text, ai_hand_off
        """

    private static func settings(_ rows: Rows) async throws -> AccountSettings? {
        for try await (cooldown, pause, ai, description, tone, fallback, memory, budget, welcome, welcomeMode, away, hours, zone, rulesOut, disclosure, aiHandOff)
            in rows.decode((Int, Int, Bool, String, String, String, Bool, Int, String, String, String, String, String, Bool, String, Bool).self)
        {
            var settings = AccountSettings(
                cooldownSeconds: cooldown, humanPauseMinutes: pause, aiEnabled: ai, businessDescription: description, aiTone: tone,
                fallbackText: fallback, aiMemory: memory, aiDailyBudget: budget)
            settings.welcomeText = welcome
            settings.welcomeInstead = welcomeMode == "instead"
            settings.awayText = away
            settings.businessHoursJSON = hours
            settings.timeZone = zone
            settings.rulesOutOfHours = rulesOut
            settings.botDisclosureText = disclosure
            settings.aiHandOff = aiHandOff
            return settings
        }
        return nil
    }

    package func iceBreakers(accountID: UUID) async throws -> [IceBreaker] {
        var list: [IceBreaker] = []
        let rows = try await client.query(
            "SELECT position, question, answer, payload FROM ice_breakers WHERE account_id = \(accountID) ORDER BY position", logger: logger)
        for try await (position, question, answer, payload) in rows.decode((Int16, String, String, String).self) {
            list.append(IceBreaker(position: Int(position), question: question, answer: answer, payload: payload))
        }
        return list
    }

    package func rule(_ id: UUID, accountID: UUID) async throws -> StoredRule? {
        try await rules("SELECT \(unescaped: Self.ruleColumns) FROM reply_rules WHERE id = \(id) AND account_id = \(accountID)").first
    }

    /// Creates a rule; nil when the account already has the maximum.
    package func createRule(_ rule: ReplyRule, accountID: UUID) async throws -> StoredRule? {
        let id = UUID()
        let created = try await rules(
            """
            INSERT INTO reply_rules (id, account_id, keywords, match_type, negative_keywords, priority, enabled, reply, trigger, action, hand_off_minutes,
                                     option_kind, option_titles, option_targets)
            SELECT \(id), \(accountID), \(rule.keywords), \(rule.matchType.rawValue), \(rule.negativeKeywords), \(rule.priority), \(rule.enabled), \(rule.reply),
                   \(rule.trigger.rawValue), \(rule.handOffMinutes == nil ? "reply" : "hand_off"), \(rule.handOffMinutes ?? 60),
                   \(rule.optionKind?.rawValue), \(Self.titles(rule)), \(Self.targets(rule))
            WHERE (SELECT count(*) FROM reply_rules WHERE account_id = \(accountID)) < \(Self.maximumRules)
            RETURNING \(unescaped: Self.ruleColumns)
            """)
        return created.first
    }

    package func updateRule(_ id: UUID, _ rule: ReplyRule, accountID: UUID) async throws -> StoredRule? {
        try await rules(
            """
            UPDATE reply_rules SET keywords = \(rule.keywords), match_type = \(rule.matchType.rawValue), negative_keywords = \(rule.negativeKeywords),
                priority = \(rule.priority), enabled = \(rule.enabled), reply = \(rule.reply), trigger = \(rule.trigger.rawValue),
                action = \(rule.handOffMinutes == nil ? "reply" : "hand_off"), hand_off_minutes = \(rule.handOffMinutes ?? 60),
                option_kind = \(rule.optionKind?.rawValue), option_titles = \(Self.titles(rule)), option_targets = \(Self.targets(rule)),
                updated_at = clock_timestamp()
            WHERE id = \(id) AND account_id = \(accountID)
            RETURNING \(unescaped: Self.ruleColumns)
            """
        ).first
    }

    /// The options' rule ids (the API checked that they are ids of this account's rules); titles and targets are stored
    /// side by side, so an option without a valid id is left out of both.
    private static func targets(_ rule: ReplyRule) -> [UUID] { rule.options.compactMap { UUID(uuidString: $0.nextRuleID) } }
    private static func titles(_ rule: ReplyRule) -> [String] { rule.options.filter { UUID(uuidString: $0.nextRuleID) != nil }.map(\.title) }

    /// Which of `ids` are not rules of the account (an option must lead to one of the account's own rules).
    package func missingRules(_ ids: [UUID], accountID: UUID) async throws -> [UUID] {
        guard !ids.isEmpty else { return [] }
        var found = Set<UUID>()
        for try await id in try await client.query(
            "SELECT id FROM reply_rules WHERE account_id = \(accountID) AND id = ANY(\(ids))", logger: logger
        ).decode(UUID.self) { found.insert(id) }
        return ids.filter { !found.contains($0) }
    }

    package func deleteRule(_ id: UUID, accountID: UUID) async throws -> Bool {
        for try await _ in try await client.query(
            "DELETE FROM reply_rules WHERE id = \(id) AND account_id = \(accountID) RETURNING id", logger: logger
        ).decode(UUID.self) { return true }
        return false
    }

    /// Changes an account's settings with `change` and returns them, in one transaction that holds the settings row: two
    /// saves of different fields at once both take effect.
    @discardableResult
    package func updateSettings(accountID: UUID, _ change: @escaping @Sendable (inout AccountSettings) -> Void) async throws -> AccountSettings {
        try await client.withTransaction(logger: logger) { db in
            try await db.query("INSERT INTO account_settings (account_id) VALUES (\(accountID)) ON CONFLICT DO NOTHING", logger: logger)
            var settings = try await Self.settings(
                try await db.collect(
                    """
                    SELECT \(unescaped: Self.settingsColumns) FROM account_settings WHERE account_id = \(accountID) FOR UPDATE
                    """, logger: logger)) ?? AccountSettings()
            change(&settings)
            try await db.query(
                """
                UPDATE account_settings SET
                    cooldown_seconds = \(settings.cooldownSeconds), human_pause_minutes = \(settings.humanPauseMinutes),
                    ai_enabled = \(settings.aiEnabled), business_description = \(settings.businessDescription), ai_tone = \(settings.aiTone),
                    fallback_text = \(settings.fallbackText), ai_memory = \(settings.aiMemory), ai_daily_budget = \(settings.aiDailyBudget),
                    welcome_text = \(settings.welcomeText), welcome_mode = \(settings.welcomeInstead ? "instead" : "before"),
                    away_text = \(settings.awayText), business_hours = \(settings.businessHoursJSON), time_zone = \(settings.timeZone),
                    rules_out_of_hours = \(settings.rulesOutOfHours), bot_disclosure_text = \(settings.botDisclosureText),
                    ai_hand_off = \(settings.aiHandOff), updated_at = now()
                WHERE account_id = \(accountID)
                """, logger: logger)
            return settings
        }
    }

    /// Replaces the account's Ice Breakers and queues their sync to Instagram, in one transaction.
    package func replaceIceBreakers(_ items: [(question: String, answer: String)], accountID: UUID, queue: JobQueue) async throws -> [IceBreaker] {
        let list = items.enumerated().map { index, item in
            IceBreaker(position: index + 1, question: item.question, answer: item.answer, payload: "IB_\(index + 1)_\(UUID().uuidString.prefix(8))")
        }
        try await client.withTransaction(logger: logger) { db in
            try await IceBreaker.replaceAll(list, accountID: accountID, on: db, logger: logger)
            try await queue.enqueue(
                [IceBreakersSyncJob.make(accountID: accountID)],
                on: db)
        }
        return list
    }

    /// Replaces the account's Ice Breakers without queueing their sync (seeding: the sandbox is told separately).
    package func storeIceBreakers(_ list: [IceBreaker], accountID: UUID) async throws {
        try await client.withTransaction(logger: logger) { db in try await IceBreaker.replaceAll(list, accountID: accountID, on: db, logger: logger) }
    }

    /// The account's rules' keywords by id (lower-case), to name the rules in the statistics.
    package func ruleKeywords(accountID: UUID) async throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for try await (id, keywords) in try await client.query(
            "SELECT id, keywords FROM reply_rules WHERE account_id = \(accountID)", logger: logger
        ).decode((UUID, [String]).self) { result[id.uuidString.lowercased()] = keywords }
        return result
    }

    /// The titles of each rule's quick replies or buttons, by rule id (lower-case), to name the taps in the statistics.
    package func optionTitles(accountID: UUID) async throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for try await (id, titles) in try await client.query(
            "SELECT id, option_titles FROM reply_rules WHERE account_id = \(accountID) AND option_kind IS NOT NULL", logger: logger
        ).decode((UUID, [String]).self) { result[id.uuidString.lowercased()] = titles }
        return result
    }

    /// The account's Ice Breaker questions by position, to name them in the statistics.
    package func iceBreakerQuestions(accountID: UUID) async throws -> [Int: String] {
        var result: [Int: String] = [:]
        for try await (position, question) in try await client.query(
            "SELECT position, question FROM ice_breakers WHERE account_id = \(accountID)", logger: logger
        ).decode((Int16, String).self) { result[Int(position)] = question }
        return result
    }
}
