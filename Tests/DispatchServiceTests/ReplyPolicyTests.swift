@testable import DispatchService
import ReplyDecision
import AIReplies
import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import Foundation
import InstagramGraph
import ReplyRules
import Testing

/// The decision, with plain values: every reason, in the order the policy takes them.
@Suite struct ReplyPolicyTests {
    static let now = Date(timeIntervalSince1970: 1_780_000_000)
    static let rule = ReplyPlan(text: "Our prices start at 10 EUR.", source: "rule", ruleID: UUID())

    /// A customer's text message, 5 s old, nothing in the way.
    static func facts(_ change: (inout ReplyFacts) -> Void = { _ in }) -> ReplyFacts {
        var facts = ReplyFacts(kind: .message, customerID: "c-1", text: "price please", eventTime: now.addingTimeInterval(-5), businessID: "shop")
        change(&facts)
        return facts
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let facts: ReplyFacts
        let expected: ReplyPolicy.Verdict
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "the business writing to itself", facts: facts { $0.customerID = "shop"; $0.candidate = rule }, expected: .skip(.fromBusiness)),
        Case(name: "a connection that needs reconnecting", facts: facts { $0.connectionActive = false; $0.candidate = rule }, expected: .skip(.needsReconnect)),
        Case(name: "older than Instagram's 24-hour window", facts: facts { $0.eventTime = now.addingTimeInterval(-24 * 3600 - 1); $0.candidate = rule },
             expected: .skip(.outsideWindow)),
        Case(name: "just inside the window", facts: facts { $0.eventTime = now.addingTimeInterval(-24 * 3600 + 1); $0.candidate = rule }, expected: .reply(rule)),
        Case(name: "a person answering (paused)", facts: facts { $0.pausedUntil = now.addingTimeInterval(60); $0.candidate = rule }, expected: .skip(.humanActive)),
        Case(name: "a pause that has ended", facts: facts { $0.pausedUntil = now.addingTimeInterval(-1); $0.candidate = rule }, expected: .reply(rule)),
        Case(name: "the same answer within the cooldown", facts: facts { $0.lastSameAnswerAt = now.addingTimeInterval(-3); $0.cooldownSeconds = 10; $0.candidate = rule },
             expected: .skip(.cooldown)),
        Case(name: "the same answer after the cooldown", facts: facts { $0.lastSameAnswerAt = now.addingTimeInterval(-11); $0.cooldownSeconds = 10; $0.candidate = rule },
             expected: .reply(rule)),
        Case(name: "a new question within the cooldown (another answer never sent)", facts: facts { $0.cooldownSeconds = 10; $0.candidate = rule },
             expected: .reply(rule)),
        Case(name: "a question for the AI is never held back by the cooldown", facts: facts { $0.cooldownSeconds = 3600; $0.aiEnabled = true },
             expected: .askAI),
        Case(name: "a rule answers, even with AI on", facts: facts { $0.candidate = rule; $0.aiEnabled = true }, expected: .reply(rule)),
        Case(name: "no rule, AI on", facts: facts { $0.aiEnabled = true }, expected: .askAI),
        Case(name: "no rule, AI off", facts: facts(), expected: .skip(.noRule)),
        Case(name: "an unmatched Ice Breaker tap never goes to the AI", facts: facts { $0.kind = .postback; $0.aiEnabled = true }, expected: .skip(.noRule)),
        Case(name: "a photo without text", facts: facts { $0.text = nil; $0.hasAttachments = true; $0.aiEnabled = true }, expected: .skip(.attachmentOnly)),
        Case(name: "no text at all", facts: facts { $0.text = "" }, expected: .skip(.noText)),
    ]

    @Test(arguments: cases) func decides(_ example: Case) {
        #expect(ReplyPolicy.decide(example.facts, now: Self.now) == example.expected)
    }

    @Test func aTappedIceBreakerAnswersBeforeAnyRule() {
        let matcher = RuleMatcher(rules: [ReplyRule(id: UUID().uuidString, keywords: ["delivery"], reply: "We ship in 2 days.")])
        let iceBreakers = [
            IceBreaker(position: 1, question: "Opening hours?", answer: "9 to 6.", payload: "IB_1"),
            IceBreaker(position: 2, question: "Delivery?", answer: "Everywhere in the EU.", payload: "IB_2"),
        ]
        let tapped = ReplyPolicy.candidate(kind: .postback, postbackPayload: "IB_2", text: "Delivery?", iceBreakers: iceBreakers, matcher: matcher)
        #expect(tapped == ReplyPlan(text: "Everywhere in the EU.", source: "ice_breaker", iceBreaker: 2))
        #expect(tapped?.counts == ["replied_ice_breaker", "ice_breaker:2"])
        // A tap on an Ice Breaker that no longer exists goes to the rules with its title.
        let stale = ReplyPolicy.candidate(kind: .postback, postbackPayload: "IB_9", text: "Delivery?", iceBreakers: iceBreakers, matcher: matcher)
        #expect(stale?.source == "rule" && stale?.text == "We ship in 2 days.")
        // A message that happens to carry an Ice Breaker's text is matched by the rules, not taken for a tap.
        let typed = ReplyPolicy.candidate(kind: .message, postbackPayload: nil, text: "Opening hours?", iceBreakers: iceBreakers, matcher: matcher)
        #expect(typed == nil)
    }
}

/// Instagram's and the AI's failure reasons reach the activity log as they are: each is one of the contract's reasons,
/// so the dashboard's words (checked against that list) cover them too.
@Suite struct ReasonContractTests {
    @Test func everyGraphAndAIReasonIsAContractReason() {
        let graph: [GraphError] = [
            .tokenInvalid(subcode: nil), .outsideWindow, .recipientUnavailable, .rateLimited(retryAfterSeconds: nil), .transient("HTTP 500"),
            .ambiguous("timeout"), .malformedResponse,
        ]
        let ai: [AIError] = [.timeout, .rateLimited, .serverError(status: 500), .unreachable, .unauthorized, .rejected(status: 400), .malformedAnswer]
        for reason in graph.map(\.reason) + ai.map(\.reason) {
            #expect(ActivityReason(rawValue: reason) != nil, "\(reason) is not an ActivityReason")
        }
        // The one family with a variable part.
        #expect(ActivityReason.patternPrefixes.contains { GraphError.permanent(code: 100, subcode: nil).reason.hasPrefix($0) })
    }
}

/// Issue 16, item 7: Meta's subcodes of error 190 say why a token stopped working.
@Suite struct ConnectionCheckReasonTests {
    @Test func expiredAndRevokedTokensAreToldApart() {
        #expect(AccountJobs.tokenReason(463) == "token_expired")
        #expect(AccountJobs.tokenReason(458) == "token_revoked" && AccountJobs.tokenReason(460) == "token_revoked")
        #expect(AccountJobs.tokenReason(nil) == "token_invalid" && AccountJobs.tokenReason(467) == "token_invalid")
    }
}
