import AIReplies
import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import Foundation
import Hummingbird
import Logging
import ReplyDecision
import ReplyRules

/// `POST /api/try`: "Try the bot". Runs dispatch's own decision (ReplyPolicy, Greetings: rules, taps on quick replies and
/// buttons, Ice Breakers, business hours, welcome, disclosure, hand-off, the AI through the configured provider) on a
/// typed message, and says what the customer would receive and why. Nothing is sent to Instagram, logged or counted; the
/// conversation's state (welcomed, disclosed, away message sent, handed off) travels with the client in `state`.
struct TryController: Sendable {
    let client: Database
    let limiter: RateLimiter
    /// Nil when GROQ_API_KEY is not set for auth: the AI's part is described, not asked.
    let ai: GroqClient?
    let logger: Logger

    func add(to api: RouterGroup<AuthRequestContext>) {
        api.post("try", use: tryMessage)
    }

    /// What a conversation in the panel has had so far.
    struct State: Codable {
        /// The customer wrote before (the welcome goes only with a new customer's first message).
        var seen = false
        var welcomed = false
        var disclosed = false
        /// When the away message went out (ISO 8601), and until when the bot is quiet after a hand-off.
        var away_at: String? = nil
        var paused_until: String? = nil

        init() {}

        /// Every field may be left out (a new customer sends none).
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            seen = try container.decodeIfPresent(Bool.self, forKey: .seen) ?? false
            welcomed = try container.decodeIfPresent(Bool.self, forKey: .welcomed) ?? false
            disclosed = try container.decodeIfPresent(Bool.self, forKey: .disclosed) ?? false
            away_at = try container.decodeIfPresent(String.self, forKey: .away_at)
            paused_until = try container.decodeIfPresent(String.self, forKey: .paused_until)
        }
    }

    struct Input: Decodable {
        let text: String?
        let payload: String?
        let story: String?
        let at: String?
        let state: State?
    }

    func tryMessage(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let account = try context.requireSession().accountID
        try await limiter.enforce("try:account:\(account)", limit: 120, window: .seconds(600))
        let input = try await request.decode(as: Input.self, context: context)
        func invalid(_ field: String, _ message: String) -> APIError { APIError.invalid(field, message, code: "invalid_try") }
        let text = (input.text ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.count <= 1_000 else { throw invalid("text", "Keep the message under 1,000 characters, as Instagram does.") }
        guard (input.payload?.utf8.count ?? 0) <= 1_000 else { throw invalid("payload", "That option's payload is too long.") }
        let trigger: RuleTrigger
        switch input.story {
        case nil, "": trigger = .message
        case "reply": trigger = .storyReply
        case "mention": trigger = .storyMention
        default: throw invalid("story", "Try a direct message, a reply to your story or a story mention.")
        }
        guard !text.isEmpty || input.payload != nil || trigger == .storyMention else { throw invalid("text", "Type a message to try.") }
        var now = Date()
        if let at = input.at, !at.isEmpty {
            guard let date = Self.date(at) else { throw invalid("at", "Give the time as a date and time, like 2026-12-04T21:30:00+01:00.") }
            now = date
        }
        let state = input.state ?? State()
        let outcome = try await decide(account: account, text: text, payload: input.payload, trigger: trigger, now: now, state: state)
        return try JSONResponse.make(outcome)
    }

    private func decide(account: UUID, text: String, payload: String?, trigger: RuleTrigger, now: Date, state: State) async throws -> TryOutcome {
        let automation = AutomationStore(client: client, logger: logger)
        let settings = try await automation.accountSettings(accountID: account)
        let rules = try await automation.rules(accountID: account)
        let iceBreakers = try await automation.iceBreakers(accountID: account)
        let isIceBreaker = payload.map { tapped in iceBreakers.contains { $0.payload == tapped } } ?? false
        let kind: InboundEvent.Kind = isIceBreaker ? .postback : .message
        let candidate = ReplyPolicy.candidate(
            kind: kind, postbackPayload: payload, text: text, iceBreakers: iceBreakers, matcher: RuleMatcher(rules: rules.map(\.rule)), trigger: trigger,
            tapPayload: payload)
        let conversation = ConversationState(
            pausedUntil: state.paused_until.flatMap(Self.date), welcomedAt: state.welcomed ? now : nil, disclosedAt: state.disclosed ? now : nil,
            awaySentAt: state.away_at.flatMap(Self.date), isNew: !state.seen)
        let facts = ReplyFacts(
            kind: kind, customerID: "customer", text: text.isEmpty ? nil : text, eventTime: now, businessID: "business",
            pausedUntil: conversation.pausedUntil, aiEnabled: settings.aiEnabled, isStory: trigger != .message, candidate: candidate)
        var outcome = TryOutcome(state: state)
        outcome.state.seen = true
        if let gate = ReplyPolicy.gate(facts, now: now) {
            outcome.explanation = gate == .humanActive
                ? "Nothing would be sent: this conversation is handed to you, and the bot stays quiet until \(state.paused_until ?? "later")."
                : "Nothing would be sent (\(gate.rawValue))."
            return outcome
        }
        let greetings = Greetings.plan(
            settings: settings, conversation: conversation, now: now, kind: kind, isMention: trigger == .storyMention)
        var answer: ReplyPlan?
        var why: String
        if !greetings.answerAllowed {
            why = greetings.closed
                ? "It is outside your business hours, and rules and the AI do not answer then."
                : "This is the customer's first message, and your welcome goes out instead of the answer."
        } else {
            switch ReplyPolicy.decide(facts, now: now) {
            case .reply(let plan):
                answer = plan
                why = Self.explain(plan, rules: rules, iceBreakers: iceBreakers)
            case .skip(let reason):
                why = Self.explain(reason)
            case .askAI:
                (answer, why) = try await askAI(account: account, text: text, settings: settings, rules: rules)
            }
        }
        guard let plan = Greetings.attach(answer, greetings, settings: settings, conversation: conversation) else {
            outcome.explanation = "Nothing would be sent: " + why
            return outcome
        }
        if answer == nil { why = (greetings.closed ? "It is outside your business hours. " : "") + why }
        outcome.record(plan, explanation: why, now: now)
        return outcome
    }

    /// The AI's answer (through the configured provider), the fallback, a hand-off, or nothing; and why.
    private func askAI(account: UUID, text: String, settings: AccountSettings, rules: [StoredRule]) async throws -> (ReplyPlan?, String) {
        guard let ai else {
            return (nil, "no rule answers this, so the AI would be asked (set GROQ_API_KEY for flowtalk-auth too to see its answer here).")
        }
        guard settings.aiDailyBudget > 0 else {
            // As dispatch: a used-up budget sends the fallback.
            guard !settings.fallbackText.isEmpty else { return (nil, "no rule answers this, and the AI's daily budget is 0.") }
            return (ReplyPlan(text: settings.fallbackText, source: "fallback"), "no rule answers this and the AI's daily budget is 0, so your fallback message goes out.")
        }
        // The operator's AI key: tries have their own daily allowance per account, beside the rate of tries.
        try await limiter.enforce("try-ai:account:\(account)", limit: Self.aiTriesPerDay, window: .seconds(86_400))
        let facts = rules.filter(\.enabled).sorted { $0.priority > $1.priority }.map {
            AIPrompt.Fact(topic: $0.keywords, answer: ReplyTemplate.render($0.reply, username: nil))
        }
        let prompt = AIPrompt(description: settings.businessDescription, tone: settings.aiTone, facts: facts, text: text)
        let reason: String
        do {
            let answer = try await ai.complete(prompt, logger: logger)
            if answer.canHelp { return (ReplyPlan(text: answer.reply, source: "ai"), "no rule answers this, so the AI answered.") }
            if settings.aiHandOff {
                var plan = ReplyPlan(text: "", source: "hand_off")
                plan.handOffMinutes = settings.humanPauseMinutes > 0 ? settings.humanPauseMinutes : 60
                return (plan, "the AI could not help, so the conversation is handed to you.")
            }
            reason = "the AI could not help"
        } catch {
            reason = "the AI did not answer (\(error.reason))"
        }
        guard !settings.fallbackText.isEmpty else { return (nil, reason + ", and there is no fallback message.") }
        return (ReplyPlan(text: settings.fallbackText, source: "fallback", note: reason), reason + ", so your fallback message goes out.")
    }

    static func explain(_ plan: ReplyPlan, rules: [StoredRule], iceBreakers: [IceBreaker]) -> String {
        if let position = plan.iceBreaker {
            let question = iceBreakers.first { $0.position == position }?.question ?? "an Ice Breaker"
            return "The customer tapped the Ice Breaker “\(question)”."
        }
        let rule = rules.first { $0.id == plan.ruleID }
        let name = rule.map { $0.keywords.isEmpty ? "your story rule" : "“" + $0.keywords.prefix(3).joined(separator: ", ") + "”" } ?? "a rule"
        return "Rule \(name): \(plan.explanation ?? "it matches").\(plan.handOffMinutes.map { " It hands the conversation to you for \($0) minutes." } ?? "")"
    }

    static func explain(_ reason: ActivityReason) -> String {
        switch reason {
        case .noRule: "no rule answers this, and the AI is off (or does not answer story replies and mentions)."
        case .noText: "the message has no text."
        case .attachmentOnly: "the message is only a photo, video or sticker."
        default: "\(reason.rawValue)."
        }
    }

    /// AI answers "Try the bot" asks for per account and day (the account's customers' budget is not touched).
    static let aiTriesPerDay = 100

    static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    static func text(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
}
