import FlowtalkContracts
import FlowtalkCore
import FlowtalkDevSupport
import FlowtalkStore
import AsyncHTTPClient
import FlowtalkTesting
import NIOCore
import NIOHTTP1
import Foundation
import PostgresNIO
import Testing

/// Issue 16, item 7, over the real binaries: dispatch checks each connection once a day with light Graph calls (the
/// sandbox's `/me` and `subscribed_apps`), records what it found for the dashboard, and marks a refused token as needing
/// reconnecting before a customer's reply finds out.
@Suite(.serialized) struct ConnectionCheckTests {
    typealias Loop = ReplyLoopTests

    static func health(_ stack: Loop.Stack) async throws -> ConnectionHealth? {
        try await ConnectionStore(client: Database(stack.client), logger: .quiet("q")).connectionHealth(accountID: stack.accountID)
    }

    static func check(_ stack: Loop.Stack, day: Int) async throws {
        _ = try await JobQueue(client: Database(stack.client), logger: .quiet("q")).enqueue(
            [ConnectionCheckJob.make(accountID: stack.accountID, now: Date().addingTimeInterval(Double(day) * 86_400))])
    }

    @Test func theDailyCheckFindsWebhooksOffThenARevokedToken() async throws {
        try await Loop.withStack { stack, dispatch in
            // Dispatch queues the first check itself when it starts (the connection was never checked). The seeded
            // account never subscribed its webhooks in the sandbox.
            do {
                try await eventually("the first check", timeout: .seconds(20)) { try await Self.health(stack)?.lastCheckAt != nil }
            } catch { print(dispatch.log); throw error }
            var health = try #require(try await Self.health(stack))
            #expect(health.lastCheckOK == true && health.webhooksSubscribed == false && health.lastCheckError == nil)

            // Subscribed now (as a reconnect does): the next day's check sees it.
            var subscribe = HTTPClientRequest(url: "\(stack.sandbox)/v25.0/\(Loop.shop)/subscribed_apps?subscribed_fields=messages,messaging_postbacks")
            subscribe.method = .POST
            subscribe.headers.add(name: "Authorization", value: "Bearer \(Loop.token)")
            #expect(try await HTTPClient.shared.execute(subscribe, timeout: .seconds(10)).status == .ok)
            try await Self.check(stack, day: 1)
            try await eventually("webhooks seen on") { try await Self.health(stack)?.webhooksSubscribed == true }

            // The token is revoked (Instagram no longer knows it): the check marks the connection before any reply fails.
            let seeder = AccountSeeder(client: stack.client, vault: stack.vault, logger: .quiet("seed"))
            _ = try await seeder.connect(accountID: stack.accountID, instagramUserID: Loop.shop, username: "shop", token: Secret("IGAA-revoked"))
            try await Self.check(stack, day: 2)
            try await eventually("marked for reconnecting") { try await Self.health(stack)?.lastCheckError != nil }
            health = try #require(try await Self.health(stack))
            #expect(health.lastCheckOK == false && health.lastCheckError == "token_invalid")
            let facts = try await AccountStore(client: Database(stack.client), logger: .quiet("q")).healthFacts(accountID: stack.accountID)
            #expect(facts.instagram == "needs_reconnect")
        }
    }
}
