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
        try await checkOptionTargets(input, accountID: account)
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
        try await checkOptionTargets(input, accountID: account, selfID: id)
        guard let updated = try await store.updateRule(id, input, accountID: account) else { throw APIError.notFound }
        return try encode(["rule": RuleOutput(updated)])
    }

    /// Every option must lead to a rule of this account (the rule itself, too: "back to the menu").
    private func checkOptionTargets(_ rule: ReplyRule, accountID: UUID, selfID: UUID? = nil) async throws {
        guard let kind = rule.optionKind else { return }
        let targets = rule.options.compactMap { UUID(uuidString: $0.nextRuleID) }.filter { $0 != selfID }
        let missing = Set(try await store.missingRules(targets, accountID: accountID))
        if let option = rule.options.first(where: { UUID(uuidString: $0.nextRuleID).map(missing.contains) ?? true }) {
            throw APIError.invalid(kind.rawValue, "Option “\(option.title)” leads to a rule that does not exist.", code: "invalid_rule")
        }
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
            /// The titles of the answer's quick replies and buttons, for the tester's preview.
            let quick_replies: [String]
            let buttons: [String]
        }
        struct Output: Encodable {
            /// `{"match": null}` when no rule answers, rather than an empty object.
            @Nullable var match: Match?
        }
        let match = matcher.match(text, trigger: trigger).map {
            Match(rule_id: $0.ruleID, reply: $0.reply, match_type: $0.matchType.rawValue, keyword: $0.keyword, explanation: $0.explanation,
                  preview: ReplyTemplate.render($0.reply, username: Self.sampleUsername),
                  quick_replies: $0.optionKind == .quickReplies ? $0.options.map(\.title) : [],
                  buttons: $0.optionKind == .buttons ? $0.options.map(\.title) : [])
        }
        return try encode(Output(match: match))
    }

    /// The name the rule tester fills `{username}` with (a customer's is fetched from Instagram when the reply is sent).
    static let sampleUsername = "jane_doe"

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

    func encode(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        try JSONResponse.make(value, status: status)
    }
}
