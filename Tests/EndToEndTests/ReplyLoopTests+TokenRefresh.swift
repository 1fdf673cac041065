import AsyncHTTPClient
import FlowtalkContracts
import FlowtalkCore
import FlowtalkDevSupport
import FlowtalkStore
import FlowtalkTesting
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import ReplyRules
import Testing

/// Token upkeep over the real binaries: a due token is refreshed through the sandbox's Graph API, sealed, used, and the
/// connection's app-scoped id (issue 13) is backfilled on the way.
extension ReplyLoopTests {
    @Test func aDueTokenIsRefreshedSealedAndUsed() async throws {
        try await Self.withStack { stack, _ in
            try await stack.client.query(
                """
                UPDATE instagram_connections SET token_refreshed_at = now() - interval '50 days', token_expires_at = now() + interval '5 days'
                """)
            let queue = JobQueue(client: stack.client, logger: .quiet("q"))
            try await queue.enqueue([
                NewJob(kind: "instagram.token_refresh", payload: ByteBuffer(string: stack.accountID.uuidString), dedupeKey: "refresh-now")
            ])
            try await eventually("token refreshed") {
                var recent = false
                for try await fresh in try await stack.client.query(
                    "SELECT token_refreshed_at > now() - interval '1 minute' FROM instagram_connections"
                ).decode(Bool.self) { recent = fresh }
                return recent
            }
            var sealed: [UInt8] = []
            var days = 0
            for try await (token, expires) in try await stack.client.query(
                "SELECT token_sealed, EXTRACT(DAY FROM token_expires_at - now())::int FROM instagram_connections"
            ).decode((ByteBuffer, Int).self) {
                sealed = Array(buffer: token)
                days = expires
            }
            let owner = TokenOwner(accountID: stack.accountID.uuidString.lowercased(), instagramUserID: Self.shop)
            let opened = try stack.vault.open(sealed, for: owner).value
            #expect(opened != Self.token && opened.hasPrefix("IGAA-sandbox-"))
            #expect(days >= 59)
            // The next refresh is already scheduled, ten days before the new expiry.
            var scheduled = 0
            for try await n in try await stack.client.query(
                "SELECT count(*) FROM jobs WHERE kind = 'instagram.token_refresh' AND run_at > now() + interval '45 days'"
            ).decode(Int.self) { scheduled = n }
            #expect(scheduled == 1)
            // A connection made before migration 15 had no app-scoped id (Meta's callbacks may name it): the refresh
            // asked `/me` for it (the sandbox's is "9" and the IG user id reversed).
            try await eventually("the app-scoped id backfilled") {
                var id: String?
                for try await value in try await stack.client.query("SELECT app_scoped_id FROM instagram_connections").decode(String?.self) { id = value }
                return id == "9" + String(Self.shop.reversed())
            }
            // And replies go out with the new token.
            _ = try await Self.dm(stack, from: "after-refresh", "price?")
            try await eventually("reply with the new token") { try await Self.replyStates(stack, customer: "after-refresh") == ["sent"] }
            #expect(try await Self.outgoing(stack, to: "after-refresh").count == 1)
        }
    }
}
