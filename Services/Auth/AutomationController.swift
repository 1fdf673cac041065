import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresNIO
import ReplyRules

/// Keyword rules, the rule tester, settings and Ice Breakers of the signed-in account. Another account's ids answer 404.
struct AutomationController: Sendable {
    let store: AutomationStore
    let queue: JobQueue

    init(client: Database, logger: Logger) {
        store = AutomationStore(client: client, logger: logger)
        queue = JobQueue(client: client, logger: logger)
    }

    func add(to api: RouterGroup<AuthRequestContext>) {
        api.get("rules", use: listRules)
        api.post("rules", use: createRule)
        api.post("rules/test", use: testRule)
        api.get("rules/:id", use: getRule)
        api.put("rules/:id", use: updateRule)
        api.delete("rules/:id", use: deleteRule)
        api.get("settings", use: getSettings)
        api.put("settings", use: putSettings)
        api.get("ice-breakers", use: getIceBreakers)
        api.put("ice-breakers", use: putIceBreakers)
    }

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
            let priority = priority ?? 0
            guard (-1000...1000).contains(priority) else {
                throw APIError.invalid("priority", "The priority must be a whole number from -1,000 to 1,000.", code: "invalid_rule")
            }
            let rule = ReplyRule(
                id: "", keywords: keywords.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }, matchType: type,
                negativeKeywords: (negative_keywords ?? []).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty },
                priority: priority, enabled: enabled ?? true, reply: reply.trimmingCharacters(in: .whitespacesAndNewlines), trigger: trigger,
                handOffMinutes: handOff)
            let problems = RuleValidator.fieldProblems(rule)
            guard problems.isEmpty else {
                // The first problem's field, so the form can point at it; every problem in words.
                throw APIError.invalid(problems[0].field, problems.map(\.message).joined(separator: " "), code: "invalid_rule")
            }
            return rule
        }
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

        init(_ stored: StoredRule) {
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

    func listRules(_ request: Request, context: AuthRequestContext) async throws -> Response {
        try encode(["rules": try await store.rules(accountID: try context.requireSession().accountID).map(RuleOutput.init)])
    }

    func getRule(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let account = try context.requireSession().accountID
        guard let rule = try await store.rule(try ruleID(context), accountID: account) else { throw APIError.notFound }
        return try encode(["rule": RuleOutput(rule)])
    }

    func createRule(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let account = try context.requireSession().accountID
        let input = try await request.decode(as: RuleInput.self, context: context).rule()
        guard let created = try await store.createRule(input, accountID: account) else {
            throw APIError.conflict("An account can have at most \(AutomationStore.maximumRules) rules.")
        }
        return try encode(["rule": RuleOutput(created)], status: .created)
    }

    func updateRule(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let account = try context.requireSession().accountID
        let id = try ruleID(context)
        guard let existing = try await store.rule(id, accountID: account) else { throw APIError.notFound }
        let input = try await request.decode(as: RuleInput.self, context: context).rule(existing: existing)
        guard let updated = try await store.updateRule(id, input, accountID: account) else { throw APIError.notFound }
        return try encode(["rule": RuleOutput(updated)])
    }

    func deleteRule(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let account = try context.requireSession().accountID
        guard try await store.deleteRule(try ruleID(context), accountID: account) else { throw APIError.notFound }
        return Response(status: .noContent)
    }

    /// Runs dispatch's own matcher over the account's rules: which rule would answer this text, and why.
    func testRule(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let account = try context.requireSession().accountID
        struct Input: Decodable {
            let text: String
            /// What the message would be: `message` (default), `story_reply` or `story_mention`.
            let trigger: String?
        }
        let input = try await request.decode(as: Input.self, context: context)
        let text = input.text
        guard let trigger = RuleTrigger(rawValue: input.trigger ?? "message"), trigger != .any else {
            throw APIError.invalid("trigger", "Try a direct message, a reply to your story or a story mention.", code: "invalid_trigger")
        }
        guard text.count <= 4_000 else { throw APIError.invalid("text", "Keep the message under 4,000 characters.", code: "text_too_long") }
        let matcher = RuleMatcher(rules: try await store.rules(accountID: account).map(\.rule))
        struct Match: Encodable {
            let rule_id: String
            let reply: String
            let match_type: String
            let keyword: String
            let explanation: String
            /// The reply as a customer would read it, `{username}` filled with a sample name.
            let preview: String
        }
        struct Output: Encodable {
            let match: Match?
            enum CodingKeys: String, CodingKey { case match }
            // `{"match": null}` when no rule answers, rather than an empty object.
            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(match, forKey: .match)
            }
        }
        let match = matcher.match(text, trigger: trigger).map {
            Match(rule_id: $0.ruleID, reply: $0.reply, match_type: $0.matchType.rawValue, keyword: $0.keyword, explanation: $0.explanation,
                  preview: ReplyTemplate.render($0.reply, username: Self.sampleUsername))
        }
        return try encode(Output(match: match))
    }

    /// The name the rule tester fills `{username}` with (a customer's is fetched from Instagram when the reply is sent).
    static let sampleUsername = "jane_doe"

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

        init(_ settings: AccountSettings) {
            cooldown_seconds = settings.cooldownSeconds
            human_pause_minutes = settings.humanPauseMinutes
            ai_enabled = settings.aiEnabled
            business_description = settings.businessDescription
            ai_tone = settings.aiTone
            fallback_text = settings.fallbackText
            ai_memory = settings.aiMemory
            ai_daily_budget = settings.aiDailyBudget
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
        return change
    }

    func putSettings(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let account = try context.requireSession().accountID
        let change = try Self.validated(try await request.decode(as: SettingsFields.self, context: context))
        let saved = try await store.updateSettings(accountID: account) { change.apply(to: &$0) }
        return try encode(["settings": SettingsFields(saved)])
    }

    struct IceBreakerItem: Codable {
        let question: String
        let answer: String
    }

    func getIceBreakers(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let account = try context.requireSession().accountID
        let items = try await store.iceBreakers(accountID: account)
        return try encode(["items": items.map { IceBreakerItem(question: $0.question, answer: $0.answer) }])
    }

    /// Replaces all Ice Breakers (at most 4) and queues their sync to Instagram.
    func putIceBreakers(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let account = try context.requireSession().accountID
        struct Input: Decodable { let items: [IceBreakerItem] }
        let items = try await request.decode(as: Input.self, context: context).items.map {
            (question: $0.question.trimmingCharacters(in: .whitespacesAndNewlines), answer: $0.answer.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        guard items.count <= 4 else { throw APIError.invalid("items", "Instagram shows at most 4 Ice Breakers.", code: "invalid_ice_breakers") }
        for (index, item) in items.enumerated() {
            guard (1...80).contains(item.question.count) else {
                throw APIError.invalid(
                    "items.\(index).question", "Question \(index + 1) needs 1 to 80 characters (it has \(item.question.count)).", code: "invalid_ice_breakers")
            }
            guard !item.answer.isEmpty, item.answer.count <= 1_000 else {
                throw APIError.invalid(
                    "items.\(index).answer", "The answer to question \(index + 1) needs 1 to 1,000 characters (it has \(item.answer.count.formatted())).",
                    code: "invalid_ice_breakers")
            }
        }
        let saved = try await store.replaceIceBreakers(items, accountID: account, queue: queue)
        return try encode(["items": saved.map { IceBreakerItem(question: $0.question, answer: $0.answer) }])
    }

    private func ruleID(_ context: AuthRequestContext) throws -> UUID {
        guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)) else { throw APIError.notFound }
        return id
    }

    private func encode(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        try JSONResponse.make(value, status: status)
    }
}
