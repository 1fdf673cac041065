import FlowtalkCore
import FlowtalkDevSupport
import FlowtalkStore
import FlowtalkTesting
import NIOHTTP1
import Foundation
import PostgresNIO
import ReplyRules
import Testing

/// Issue 16, items 2, 4, 5, 6 and 9, over the real binaries (sandbox → ingest → queue → dispatch → sandbox's Send API):
/// a three-step menu driven by taps, the welcome and the bot disclosure once, the away message once per closed period,
/// and reactions to the bot's messages counted.
@Suite(.serialized) struct MenuAndGreetingsTests {
    typealias Loop = ReplyLoopTests

    /// A message the sandbox's Send API took, with its quick replies or buttons.
    struct Sent: Decodable {
        struct Option: Decodable {
            let title: String
            let payload: String
        }
        let direction: String
        let customer_id: String
        let text: String
        let mid: String
        let quick_replies: [Option]?
        let buttons: [Option]?
    }
    struct Conversation: Decodable { let messages: [Sent] }

    static func sent(_ stack: Loop.Stack, to customer: String) async throws -> [Sent] {
        let (_, body) = try await RealBinariesTests.get("\(stack.sandbox)/simulate/conversations/\(Loop.shop)")
        return try JSONDecoder().decode(Conversation.self, from: Data(body.utf8)).messages.filter { $0.direction == "out" && $0.customer_id == customer }
    }

    static func count(_ stack: Loop.Stack, _ metric: String) async throws -> Int64 {
        var total: Int64 = 0
        for try await n in try await stack.client.query(
            "SELECT coalesce(sum(count), 0)::int8 FROM hourly_counts WHERE metric = \(metric)", logger: .quiet("q")
        ).decode(Int64.self) { total = n }
        return total
    }

    static func simulate(_ stack: Loop.Stack, _ path: String, _ json: String) async throws {
        let (status, body) = try await Loop.post("\(stack.sandbox)/simulate/\(path)", json)
        #expect(status == .ok)
        #expect(body.contains(#""ingest_status":200"#))
    }

    @Test func aThreeStepMenuIsDrivenByTaps() async throws {
        try await Loop.withStack { stack, _ in
            let seeder = AccountSeeder(client: stack.client, vault: stack.vault, logger: .quiet("seed"))
            let account = stack.accountID
            let person = try await seeder.addRule(
                accountID: account, keywords: ["zzz-person"], reply: "Someone from our team will answer you here.", handOffMinutes: 30)
            // Keywords no tap's title would match: the tap itself chooses the rule.
            let prices = try await seeder.addRule(
                accountID: account, keywords: ["zzz-prices"], reply: "Shirts are 20 EUR, hoodies 45 EUR.", optionKind: .buttons,
                options: [ReplyOption(title: "Talk to a person", nextRuleID: person.uuidString.lowercased())])
            let menu = try await seeder.addRule(
                accountID: account, keywords: ["menu"], reply: "What can I help with?", optionKind: .quickReplies,
                options: [
                    ReplyOption(title: "Prices", nextRuleID: prices.uuidString.lowercased()),
                    ReplyOption(title: "Talk to a person", nextRuleID: person.uuidString.lowercased()),
                ])
            let customer = "cust-menu"
            _ = try await Loop.dm(stack, from: customer, "menu")
            try await eventually("the menu sent") { try await Self.sent(stack, to: customer).count == 1 }
            let first = try #require(try await Self.sent(stack, to: customer).first)
            #expect(first.text == "What can I help with?")
            #expect(first.quick_replies?.map(\.title) == ["Prices", "Talk to a person"])
            #expect(first.buttons == nil)

            // Step 2: the customer taps "Prices" (a quick reply: the title as text, the payload beside it).
            let tap = try #require(first.quick_replies?.first)
            try await Self.simulate(
                stack, "dm", #"{"ig_id":"\#(Loop.shop)","from":"\#(customer)","text":"Prices","quick_reply_payload":"\#(tap.payload)"}"#)
            try await eventually("the prices sent") { try await Self.sent(stack, to: customer).count == 2 }
            let second = try await Self.sent(stack, to: customer)[1]
            #expect(second.text == "Shirts are 20 EUR, hoodies 45 EUR.")
            #expect(second.buttons?.map(\.title) == ["Talk to a person"])

            // Step 3: a button postback hands the conversation to a person.
            let button = try #require(second.buttons?.first)
            try await Self.simulate(
                stack, "postback", #"{"ig_id":"\#(Loop.shop)","from":"\#(customer)","title":"Talk to a person","payload":"\#(button.payload)"}"#)
            try await eventually("the hand-off") { try await Loop.activity(stack, customer: customer).map(\.1).contains("hand_off") }
            #expect(try await Self.sent(stack, to: customer).map(\.text).last == "Someone from our team will answer you here.")
            // Taps are counted per option of the rule that showed it.
            #expect(try await Self.count(stack, "option:\(menu.uuidString.lowercased()):0") == 1)
            #expect(try await Self.count(stack, "option:\(prices.uuidString.lowercased()):0") == 1)
            #expect(try await Self.count(stack, "hand_offs") == 1)
            // Each reply sent counts its latency's bucket: the statistics' percentiles come from the counts alone.
            var buckets: Int64 = 0
            for try await n in try await stack.client.query(
                "SELECT coalesce(sum(count), 0)::int8 FROM hourly_counts WHERE metric LIKE 'latency\\_le:%'", logger: .quiet("q")
            ).decode(Int64.self) { buckets = n }
            #expect(buckets == 3)

            // A reaction to one of the bot's messages is counted (not answered); one to another message is not.
            try await Self.simulate(stack, "reaction", #"{"ig_id":"\#(Loop.shop)","from":"\#(customer)","mid":"\#(first.mid)"}"#)
            try await Self.simulate(stack, "reaction", #"{"ig_id":"\#(Loop.shop)","from":"\#(customer)","mid":"m-not-ours"}"#)
            try await eventually("the reaction counted") { try await Self.count(stack, "reactions") == 1 }
            #expect(try await Self.sent(stack, to: customer).count == 3)
        }
    }

    @Test func theWelcomeAndTheDisclosureGoOutOnce() async throws {
        try await Loop.withStack { stack, _ in
            let seeder = AccountSeeder(client: stack.client, vault: stack.vault, logger: .quiet("seed"))
            var settings = AccountSettings(cooldownSeconds: 0, humanPauseMinutes: 60)
            settings.welcomeText = "Welcome to the shop!"
            settings.botDisclosureText = "You are chatting with an automated assistant."
            try await seeder.setSettings(accountID: stack.accountID, settings)
            let customer = "cust-new"
            _ = try await Loop.dm(stack, from: customer, "how much is it?")
            try await eventually("first answer") { try await Loop.outgoing(stack, to: customer).count == 3 }
            #expect(try await Loop.outgoing(stack, to: customer) == [
                "You are chatting with an automated assistant.", "Welcome to the shop!", "Our prices start at 10 EUR.",
            ])
            _ = try await Loop.dm(stack, from: customer, "how much again?")
            try await eventually("second answer") { try await Loop.outgoing(stack, to: customer).count == 4 }
            #expect(try await Loop.outgoing(stack, to: customer).last == "Our prices start at 10 EUR.")

            // "Instead": a new customer's first message gets the welcome alone; the next one the answer.
            settings.welcomeInstead = true
            try await seeder.setSettings(accountID: stack.accountID, settings)
            _ = try await Loop.dm(stack, from: "cust-new-2", "how much is it?")
            try await eventually("the welcome") { try await Loop.outgoing(stack, to: "cust-new-2").count == 2 }
            #expect(try await Loop.outgoing(stack, to: "cust-new-2") == ["You are chatting with an automated assistant.", "Welcome to the shop!"])
            _ = try await Loop.dm(stack, from: "cust-new-2", "how much is it?")
            try await eventually("the answer") { try await Loop.outgoing(stack, to: "cust-new-2").count == 3 }
            #expect(try await Loop.outgoing(stack, to: "cust-new-2").last == "Our prices start at 10 EUR.")

            // Instagram refuses the first send for now: the retry sends the greetings too (nothing went out before).
            settings.welcomeInstead = false
            try await seeder.setSettings(accountID: stack.accountID, settings)
            let (status, _) = try await Loop.post("\(stack.sandbox)/sandbox/faults", #"{"ig_id":"\#(Loop.shop)","faults":[{"kind":"rate_limit","count":1}]}"#)
            #expect(status.code < 300)
            _ = try await Loop.dm(stack, from: "cust-new-3", "how much is it?")
            try await eventually("sent on the retry", timeout: .seconds(20)) { try await Loop.outgoing(stack, to: "cust-new-3").count == 3 }
            #expect(try await Loop.outgoing(stack, to: "cust-new-3") == [
                "You are chatting with an automated assistant.", "Welcome to the shop!", "Our prices start at 10 EUR.",
            ])
            try await eventually("recorded as sent") { try await Loop.replyStates(stack, customer: "cust-new-3") == ["sent"] }

            // The disclosure goes out, then Instagram refuses the welcome for now: the retry sends the welcome and the
            // answer, not the disclosure again.
            let (again, _) = try await Loop.post(
                "\(stack.sandbox)/sandbox/faults", #"{"ig_id":"\#(Loop.shop)","faults":[{"kind":"pass"},{"kind":"rate_limit","count":1}]}"#)
            #expect(again.code < 300)
            _ = try await Loop.dm(stack, from: "cust-new-4", "how much is it?")
            try await eventually("the rest sent on the retry", timeout: .seconds(20)) { try await Loop.outgoing(stack, to: "cust-new-4").count == 3 }
            #expect(try await Loop.outgoing(stack, to: "cust-new-4") == [
                "You are chatting with an automated assistant.", "Welcome to the shop!", "Our prices start at 10 EUR.",
            ])
            try await eventually("recorded as sent") { try await Loop.replyStates(stack, customer: "cust-new-4") == ["sent"] }
        }
    }

    @Test func theAwayMessageGoesOncePerClosedPeriodAndNotDuringHours() async throws {
        try await Loop.withStack { stack, _ in
            let seeder = AccountSeeder(client: stack.client, vault: stack.vault, logger: .quiet("seed"))
            // Open one hour a day, twelve hours from now (UTC): closed now, whatever the day.
            let hour = (Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).hour! + 12) % 24
            let window = String(format: #"[["%02d:00","%02d:00"]]"#, hour, hour + 1)
            let closed = "{" + ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map { #""\#($0)":\#(window)"# }.joined(separator: ",") + "}"
            let open = "{" + ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].map { #""\#($0)":[["00:00","24:00"]]"# }.joined(separator: ",") + "}"
            var settings = AccountSettings(cooldownSeconds: 0, humanPauseMinutes: 60)
            settings.awayText = "We are closed now and answer tomorrow from 9."
            settings.businessHoursJSON = closed
            settings.rulesOutOfHours = false
            try await seeder.setSettings(accountID: stack.accountID, settings)
            let customer = "cust-late"
            _ = try await Loop.dm(stack, from: customer, "how much is it?")
            try await eventually("the away message") { try await Loop.outgoing(stack, to: customer).count == 1 }
            #expect(try await Loop.outgoing(stack, to: customer) == ["We are closed now and answer tomorrow from 9."])
            // Once per closed period: the next message gets nothing, and says why.
            _ = try await Loop.dm(stack, from: customer, "hello?")
            try await eventually("skipped") { try await Loop.activity(stack, customer: customer).count == 2 }
            #expect(try await Loop.activity(stack, customer: customer).last?.1 == "out_of_hours")
            #expect(try await Loop.outgoing(stack, to: customer).count == 1)

            // During hours: the answer, no away message.
            settings.businessHoursJSON = open
            try await seeder.setSettings(accountID: stack.accountID, settings)
            _ = try await Loop.dm(stack, from: customer, "how much is it?")
            try await eventually("answered") { try await Loop.outgoing(stack, to: customer).count == 2 }
            #expect(try await Loop.outgoing(stack, to: customer).last == "Our prices start at 10 EUR.")
        }
    }
}
