import FlowtalkCore
import FlowtalkStore
import FlowtalkTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import Testing

@testable import AuthService

/// Issue 15, item 3: `GET /api/health` says whether anyone is answering the account's DMs, and what to do when not.
@Suite struct HealthTests {
    struct Body: Decodable {
        struct Problem: Decodable, Equatable {
            let code: String
            let reason: String?
            let count: Int?
        }
        struct Health: Decodable {
            let instagram: String
            let rules_enabled: Int
            let ai_enabled: Bool
            let messages_received: Int
            let problems: [Problem]
        }
        let health: Health
    }

    static func health(_ browser: Browser) async throws -> Body.Health {
        try decodeJSON(Body.self, from: try await browser.send(.get, "/api/health").body).health
    }

    @Test func eachProblemIsNamedWhileItLastsAndGoneOnceFixed() async throws {
        try await withAuth { client, database in
            let ana = Browser(client)
            try await ana.signUpAndIn("health@example.com")
            // A new account: not connected, and nothing would answer anyway.
            var health = try await Self.health(ana)
            #expect(health.instagram == "not_connected" && health.messages_received == 0)
            #expect(health.problems.map(\.code) == ["not_connected", "nobody_answering"])

            let account = try await seedConnectedHistory(database, email: "health@example.com", instagramID: "17841400000000931")
            health = try await Self.health(ana)
            #expect(health.instagram == "connected" && health.messages_received == 3)
            #expect(health.problems.map(\.code) == ["nobody_answering"])

            // A rule: someone answers.
            _ = try await ana.send(.post, "/api/rules", #"{"keywords":["price"],"reply":"From 10 EUR."}"#)
            health = try await Self.health(ana)
            #expect(health.problems.isEmpty && health.rules_enabled == 1)

            // Instagram refused the token: reconnect, and why.
            try await database.withClient(logger: .quiet("seed")) { db in
                try await db.query("UPDATE instagram_connections SET status = 'needs_reconnect' WHERE account_id = \(account)")
                for _ in 0..<3 {
                    try await db.query(
                        "INSERT INTO activity (account_id, customer_id, event_kind, outcome, reason) VALUES (\(account), 'c', 'message', 'failed', 'token_invalid')")
                }
            }
            health = try await Self.health(ana)
            // Failing for the token is said once, as "needs reconnecting".
            #expect(health.problems == [.init(code: "needs_reconnect", reason: "token_invalid", count: nil)])

            // Another account sees none of it.
            let bea = Browser(client)
            try await bea.signUpAndIn("other-health@example.com")
            #expect(try await Self.health(bea).problems.map(\.code) == ["not_connected", "nobody_answering"])
        }
    }

    @Test func theAIIsPausedOnlyWhileItsBreakerHoldsAnswersBack() {
        var facts = AccountHealthFacts()
        facts.instagram = "active"
        facts.aiEnabled = true
        #expect(HealthController.problems(facts).isEmpty)
        facts.lastCircuitOpenAt = Date()
        #expect(HealthController.problems(facts).map(\.code) == ["ai_paused"])
        // An AI answer went out after the breaker last held one back: it has closed again.
        facts.lastAIReplyAt = Date().addingTimeInterval(1)
        #expect(HealthController.problems(facts).isEmpty)
        // With AI off, its breaker does not matter; with no rule either, nobody answers.
        facts.aiEnabled = false
        facts.lastAIReplyAt = nil
        #expect(HealthController.problems(facts).map(\.code) == ["nobody_answering"])
        // Failing means more failures than replies, three at least.
        facts.rulesEnabled = 1
        facts.failedLastHour = 3
        facts.repliedLastHour = 5
        #expect(HealthController.problems(facts).isEmpty)
        facts.repliedLastHour = 2
        facts.commonestFailure = "recipient_unavailable"
        #expect(HealthController.problems(facts) == [.init(code: "replies_failing", reason: "recipient_unavailable", count: 3)])
    }

    @Test func theDailyChecksFindingsAreSaidInWords() {
        var facts = AccountHealthFacts()
        facts.instagram = "active"
        facts.rulesEnabled = 1
        var connection = ConnectionHealth(tokenRefreshedAt: Date(), lastCheckAt: Date(), lastCheckOK: true, webhooksSubscribed: false)
        #expect(HealthController.problems(facts, connection: connection).map(\.code) == ["webhooks_off"])
        connection.webhooksSubscribed = true
        #expect(HealthController.problems(facts, connection: connection).isEmpty)
        // The check found the token expired: that is the reason given, rather than a send's older one.
        facts.instagram = "needs_reconnect"
        facts.lastTokenRefusal = "token_invalid"
        connection.lastCheckError = "token_expired"
        #expect(HealthController.problems(facts, connection: connection) == [.init(code: "needs_reconnect", reason: "token_expired", count: nil)])
    }
}

/// Issue 15, item 5: "pause the bot for this customer" from a conversation's thread queues the change for dispatch, in
/// that conversation's order; bad input is refused in words.
@Suite struct ConversationPauseTests {
    @Test func aPauseIsQueuedInTheConversationsOrderAndBadInputIsRefused() async throws {
        try await withAuth { client, database in
            let ana = Browser(client)
            try await ana.signUpAndIn("pause@example.com")
            let unconnected = try await ana.send(.post, "/api/conversations/cust-9/pause", #"{"minutes":60}"#)
            #expect(unconnected.status == .conflict && errorCode(unconnected) == "not_connected")

            _ = try await seedConnectedHistory(database, email: "pause@example.com", instagramID: "17841400000000932")
            let queued = try await ana.send(.post, "/api/conversations/cust-9/pause", #"{"minutes":60}"#)
            #expect(queued.status == .accepted)
            let tooLong = try await ana.send(.post, "/api/conversations/cust-9/pause", #"{"minutes":20000}"#)
            #expect(tooLong.status == .badRequest && errorCode(tooLong) == "invalid_pause")
            #expect(String(buffer: tooLong.body).contains(#""field":"minutes""#))
            #expect(try await ana.send(.post, "/api/conversations/cust-9/pause", #"{"minutes":0}"#).status == .accepted)

            let jobs = try await database.withClient(logger: .quiet("q")) { db in
                var found: [(String, String?)] = []
                for try await row in try await db.query(
                    "SELECT convert_from(payload, 'UTF8'), serialization_key FROM jobs WHERE kind = 'conversation.pause' ORDER BY id"
                ).decode((String, String?).self) { found.append(row) }
                return found
            }
            #expect(jobs.count == 2)
            #expect(jobs.allSatisfy { $0.1 == "conv:17841400000000932:cust-9" })
            #expect(jobs.first?.0.contains(#""minutes":60"#) == true && jobs.last?.0.contains(#""minutes":0"#) == true)
        }
    }
}
