import FlowtalkCore
import FlowtalkStore
import Foundation
import ReplyDecision
import ReplyRules
import Testing

/// Issue 16's decisions with plain values: business hours, the greetings due, and the payloads of taps.
@Suite struct BusinessHoursTests {
    static let berlin = TimeZone(identifier: "Europe/Berlin")!
    static func at(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }
    static func hours(_ value: [String: [[String]]]) throws -> BusinessHours {
        switch BusinessHours.parse(value) {
        case .success(let hours): return hours
        case .failure(let problem): throw problem
        }
    }

    @Test func openClosedAndWhenTheClosedPeriodBegan() throws {
        let week = try Self.hours(["mon": [["09:00", "18:00"]], "fri": [["09:00", "12:00"], ["13:00", "24:00"]]])
        // Monday 2026-12-07 in Berlin (UTC+1).
        #expect(week.isOpen(at: Self.at("2026-12-07T09:00:00+01:00"), timeZone: Self.berlin))
        #expect(!week.isOpen(at: Self.at("2026-12-07T18:00:00+01:00"), timeZone: Self.berlin))  // the end is not open
        #expect(week.closedSince(Self.at("2026-12-07T18:00:00+01:00"), timeZone: Self.berlin) == Self.at("2026-12-07T18:00:00+01:00"))
        // Tuesday to Thursday are closed: the closed period began Monday 18:00.
        #expect(week.closedSince(Self.at("2026-12-10T12:00:00+01:00"), timeZone: Self.berlin) == Self.at("2026-12-07T18:00:00+01:00"))
        // Friday's lunch break is its own closed period; Saturday's began at midnight (24:00 on Friday).
        #expect(week.closedSince(Self.at("2026-12-11T12:30:00+01:00"), timeZone: Self.berlin) == Self.at("2026-12-11T12:00:00+01:00"))
        #expect(week.closedSince(Self.at("2026-12-12T10:00:00+01:00"), timeZone: Self.berlin) == Self.at("2026-12-12T00:00:00+01:00"))
        #expect(week.closedSince(Self.at("2026-12-11T23:59:00+01:00"), timeZone: Self.berlin) == nil)
        // No schedule: always open.
        #expect(BusinessHours().isOpen(at: Date(), timeZone: Self.berlin) && BusinessHours().closedSince(Date(), timeZone: Self.berlin) == nil)
    }

    @Test func theClockChangeIsTheZonesNotUTCs() throws {
        // Sunday 2026-03-29 Berlin moves from UTC+1 to UTC+2: 10:00 local is 08:00 UTC that day.
        let sunday = try Self.hours(["sun": [["10:00", "12:00"]]])
        #expect(sunday.isOpen(at: Self.at("2026-03-29T08:30:00Z"), timeZone: Self.berlin))
        #expect(sunday.isOpen(at: Self.at("2026-03-29T09:30:00Z"), timeZone: Self.berlin))
        #expect(!sunday.isOpen(at: Self.at("2026-03-29T10:30:00Z"), timeZone: Self.berlin))
        #expect(sunday.closedSince(Self.at("2026-03-29T10:30:00Z"), timeZone: Self.berlin) == Self.at("2026-03-29T12:00:00+02:00"))
    }

    @Test func badSchedulesAreRefusedInWords() throws {
        for (value, words) in [
            (["mon": [] as [[String]]], "at least one day"), (["monday": [["09:00", "18:00"]]], "mon, tue"), (["mon": [["+9:00", "18:00"]]], "from–to"),
            (["mon": [["18:00", "09:00"]]], "from–to"), (["mon": [["09:00", "13:00"], ["12:00", "18:00"]]], "overlap"),
            (["mon": [["00:00", "01:00"], ["02:00", "03:00"], ["04:00", "05:00"], ["06:00", "07:00"]]], "at most 3"), (["mon": [["24:00", "24:00"]]], "from–to"),
        ] {
            guard case .failure(let problem) = BusinessHours.parse(value) else { Issue.record("accepted \(value)"); continue }
            #expect(problem.message.contains(words), "\(value): \(problem.message)")
        }
        // Stored and read back the same, days in order.
        #expect(try Self.hours(["fri": [["13:00", "18:00"], ["09:00", "12:00"]]]).json == #"{"fri":[["09:00","12:00"],["13:00","18:00"]]}"#)
    }
}

@Suite struct GreetingsTests {
    static func settings() -> AccountSettings {
        var settings = AccountSettings()
        settings.welcomeText = "Welcome!"
        settings.botDisclosureText = "I am a bot."
        settings.awayText = "Closed."
        settings.businessHoursJSON = #"{"mon":[["09:00","17:00"]]}"#
        return settings
    }
    /// Monday 2026-12-07 12:00 UTC (open) and 20:00 (closed).
    static let open = ISO8601DateFormatter().date(from: "2026-12-07T12:00:00Z")!
    static let closed = ISO8601DateFormatter().date(from: "2026-12-07T20:00:00Z")!

    static func kinds(_ plan: Greetings.Plan, _ conversation: ConversationState, _ settings: AccountSettings = settings()) -> [String] {
        Greetings.attach(ReplyPlan(text: "answer", source: "rule"), plan, settings: settings, conversation: conversation)?.greetings.map(\.kind.rawValue) ?? []
    }

    @Test func aNewCustomersFirstMessageIsWelcomedOnce() {
        let new = ConversationState(isNew: true)
        #expect(Self.kinds(Greetings.plan(settings: Self.settings(), conversation: new, now: Self.open, kind: .message, isMention: false), new) == [
            "disclosure", "welcome",
        ])
        // Not new (wrote before, or a person began the conversation), a mention, a tap: no welcome.
        let old = ConversationState(disclosedAt: Self.open)
        #expect(Self.kinds(Greetings.plan(settings: Self.settings(), conversation: old, now: Self.open, kind: .message, isMention: false), old).isEmpty)
        #expect(Self.kinds(Greetings.plan(settings: Self.settings(), conversation: new, now: Self.open, kind: .message, isMention: true), new) == ["disclosure"])
        #expect(Self.kinds(Greetings.plan(settings: Self.settings(), conversation: new, now: Self.open, kind: .postback, isMention: false), new) == ["disclosure"])
        // "Instead": the welcome, not the answer.
        var instead = Self.settings()
        instead.welcomeInstead = true
        #expect(!Greetings.plan(settings: instead, conversation: new, now: Self.open, kind: .message, isMention: false).answerAllowed)
    }

    @Test func awayOncePerClosedPeriodAndRulesOutOfHoursAsSet() {
        var settings = Self.settings()
        let plan = Greetings.plan(settings: settings, conversation: ConversationState(disclosedAt: Self.open), now: Self.closed, kind: .message, isMention: false)
        #expect(plan.closed && plan.answerAllowed && plan.due.map(\.kind) == [.away])
        // Sent this closed period already: not again; sent in last week's: again.
        let sent = ConversationState(disclosedAt: Self.open, awaySentAt: Self.closed.addingTimeInterval(-600))
        #expect(Greetings.plan(settings: settings, conversation: sent, now: Self.closed, kind: .message, isMention: false).due.isEmpty)
        let lastWeek = ConversationState(disclosedAt: Self.open, awaySentAt: Self.closed.addingTimeInterval(-7 * 86_400))
        #expect(Greetings.plan(settings: settings, conversation: lastWeek, now: Self.closed, kind: .message, isMention: false).due.map(\.kind) == [.away])
        settings.rulesOutOfHours = false
        #expect(!Greetings.plan(settings: settings, conversation: sent, now: Self.closed, kind: .message, isMention: false).answerAllowed)
        // Nothing to send at all: nil, not an empty reply.
        #expect(Greetings.attach(nil, Greetings.Plan(), settings: AccountSettings(), conversation: ConversationState()) == nil)
    }

    @Test func aRetrySendsOnlyTheGreetingsNotDeliveredSince() {
        let decided = Self.open
        let conversation = ConversationState(disclosedAt: decided.addingTimeInterval(1))
        let left = Greetings.restore(["disclosure", "welcome"], settings: Self.settings(), conversation: conversation, decidedAt: decided)
        #expect(left.map(\.kind) == [.welcome])
        var emptied = Self.settings()
        emptied.welcomeText = ""
        #expect(Greetings.restore(["welcome"], settings: emptied, conversation: ConversationState(), decidedAt: decided).isEmpty)
    }
}

@Suite struct OptionPayloadTests {
    static let rule = "3f0b3c1e-8a49-4d3c-9a57-0d6a2a8f1b11"
    static let next = "9b2d6f7a-1c3e-4f5a-8b6c-7d8e9f0a1b2c"

    @Test func onlyOurOwnShapeIsATap() {
        let payload = OptionPayload.make(ruleID: Self.rule, position: 2, nextRuleID: Self.next)
        #expect(OptionPayload.parse(payload) == OptionPayload.Tap(ruleID: Self.rule, position: 2, nextRuleID: Self.next))
        for crafted in [
            "IB_1_abcd", "FT1:\(Self.rule):13:\(Self.next)", "FT1:\(Self.rule):-1:\(Self.next)", "FT1:\(Self.rule):2:\(Self.next):x",
            "FT1:\(Self.rule.uppercased()):2:\(Self.next)", "FT1:../../etc:2:\(Self.next)", "FT1:\(Self.rule):2:", "", "FT1:" + String(repeating: "a", count: 500),
        ] { #expect(OptionPayload.parse(crafted) == nil, "\(crafted)") }
        #expect(OptionPayload.parse(nil) == nil)
    }
}
