import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import Foundation
import Hummingbird
import ReplyDecision
import ReplyRules

extension AutomationController {
    /// The settings as the API shows them, and the body of PUT /api/settings: a field left out stays as it is.
    struct SettingsFields: Codable {
        var cooldown_seconds: Int?
        var human_pause_minutes: Int?
        var ai_enabled: Bool?
        var business_description: String?
        var ai_tone: String?
        var fallback_text: String?
        var ai_memory: Bool?
        var ai_daily_budget: Int?
        var welcome_text: String?
        /// `before` (the welcome, then the answer) or `instead` (the welcome alone, on the first message).
        var welcome_mode: String?
        var away_text: String?
        /// `{"mon": [["09:00", "18:00"]], …}` in `time_zone`; `{}` is no schedule (always open).
        var business_hours: [String: [[String]]]?
        var time_zone: String?
        var rules_out_of_hours: Bool?
        var bot_disclosure_text: String?
        var ai_hand_off: Bool?

        init(_ settings: AccountSettings) {
            cooldown_seconds = settings.cooldownSeconds
            human_pause_minutes = settings.humanPauseMinutes
            ai_enabled = settings.aiEnabled
            business_description = settings.businessDescription
            ai_tone = settings.aiTone
            fallback_text = settings.fallbackText
            ai_memory = settings.aiMemory
            ai_daily_budget = settings.aiDailyBudget
            welcome_text = settings.welcomeText
            welcome_mode = settings.welcomeInstead ? "instead" : "before"
            away_text = settings.awayText
            business_hours = BusinessHours.stored(settings.businessHoursJSON).apiValue
            time_zone = settings.timeZone
            rules_out_of_hours = settings.rulesOutOfHours
            bot_disclosure_text = settings.botDisclosureText
            ai_hand_off = settings.aiHandOff
        }

        /// Applies the fields that are set.
        func apply(to settings: inout AccountSettings) {
            if let cooldown_seconds { settings.cooldownSeconds = cooldown_seconds }
            if let human_pause_minutes { settings.humanPauseMinutes = human_pause_minutes }
            if let ai_enabled { settings.aiEnabled = ai_enabled }
            if let business_description { settings.businessDescription = business_description }
            if let ai_tone { settings.aiTone = ai_tone }
            if let fallback_text { settings.fallbackText = fallback_text }
            if let ai_memory { settings.aiMemory = ai_memory }
            if let ai_daily_budget { settings.aiDailyBudget = ai_daily_budget }
            if let welcome_text { settings.welcomeText = welcome_text }
            if let welcome_mode { settings.welcomeInstead = welcome_mode == "instead" }
            if let away_text { settings.awayText = away_text }
            if let business_hours, case .success(let hours) = BusinessHours.parse(business_hours) { settings.businessHoursJSON = hours.json }
            if let time_zone { settings.timeZone = time_zone }
            if let rules_out_of_hours { settings.rulesOutOfHours = rules_out_of_hours }
            if let bot_disclosure_text { settings.botDisclosureText = bot_disclosure_text }
            if let ai_hand_off { settings.aiHandOff = ai_hand_off }
        }
    }

    func getSettings(_ request: Request, context: AuthRequestContext) async throws -> Response {
        try encode(["settings": SettingsFields(try await store.accountSettings(accountID: try context.requireSession().accountID))])
    }

    /// Checks the fields a PUT /api/settings names (text trimmed); the others are left as they are.
    static func validated(_ input: SettingsFields) throws -> SettingsFields {
        var change = input
        change.business_description = input.business_description?.trimmingCharacters(in: .whitespacesAndNewlines)
        change.ai_tone = input.ai_tone?.trimmingCharacters(in: .whitespacesAndNewlines)
        change.fallback_text = input.fallback_text?.trimmingCharacters(in: .whitespacesAndNewlines)
        change.welcome_text = input.welcome_text?.trimmingCharacters(in: .whitespacesAndNewlines)
        change.away_text = input.away_text?.trimmingCharacters(in: .whitespacesAndNewlines)
        change.bot_disclosure_text = input.bot_disclosure_text?.trimmingCharacters(in: .whitespacesAndNewlines)
        change.time_zone = input.time_zone?.trimmingCharacters(in: .whitespacesAndNewlines)
        func invalid(_ field: String, _ message: String) -> APIError { APIError.invalid(field, message, code: "invalid_settings") }
        if let value = change.cooldown_seconds, !(0...3600).contains(value) {
            throw invalid("cooldown_seconds", "The time before an answer may repeat must be 0 to 3,600 seconds (an hour).")
        }
        if let value = change.human_pause_minutes, !(0...10_080).contains(value) {
            throw invalid("human_pause_minutes", "The pause after a person answers must be 0 to 10,080 minutes (a week).")
        }
        if let value = change.business_description, value.count > 2_000 {
            throw invalid("business_description", "Keep the business description under 2,000 characters (it has \(value.count.formatted())).")
        }
        if let value = change.ai_tone, value.count > 200 {
            throw invalid("ai_tone", "Keep the tone under 200 characters, e.g. \"friendly, short, informal\".")
        }
        if let value = change.fallback_text, value.count > 1_000 {
            throw invalid("fallback_text", "Keep the fallback text under 1,000 characters (it has \(value.count.formatted())).")
        }
        if let value = change.ai_daily_budget, !(0...100_000).contains(value) {
            throw invalid("ai_daily_budget", "The daily limit of AI answers must be 0 to 100,000.")
        }
        for (field, value, limit) in [
            ("welcome_text", change.welcome_text, 1_000), ("away_text", change.away_text, 1_000), ("bot_disclosure_text", change.bot_disclosure_text, 300),
        ] {
            if let value, value.count > limit {
                throw invalid(field, "Keep this message under \(limit.formatted()) characters (it has \(value.count.formatted())).")
            }
        }
        if let value = change.welcome_mode, !["before", "instead"].contains(value) {
            throw invalid("welcome_mode", "Send the welcome before the answer (before) or instead of it (instead).")
        }
        if let value = change.time_zone, value.isEmpty || value.count > 64 || TimeZone(identifier: value) == nil {
            throw invalid("time_zone", "Choose a time zone by its name, like Europe/Berlin or America/New_York.")
        }
        if let value = change.business_hours, case .failure(let problem) = BusinessHours.parse(value) {
            throw invalid("business_hours", problem.message)
        }
        return change
    }

    func putSettings(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let account = try context.requireSession().accountID
        let change = try Self.validated(try await request.decode(as: SettingsFields.self, context: context))
        let saved = try await store.updateSettings(accountID: account) { change.apply(to: &$0) }
        return try encode(["settings": SettingsFields(saved)])
    }
}
