@testable import AdminTool
import Crypto
import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import FlowtalkTesting
import Foundation
import NIOCore
import PostgresNIO
import Testing

/// Issue 14: `flowtalk-admin rotate-keys` on 1,000 connections: every token re-sealed with the new key and still
/// readable, a rerun (or a run after an interruption) does only what is left, and the old key is reported unused.
@Suite struct KeyRotationTests {
    @Test func aThousandTokensAreResealedAndTheOldKeyIsFree() async throws {
        try await TestDatabase.withMigrated { _, client in
            let (oldKey, newKey) = (SymmetricKey(size: .bits256), SymmetricKey(size: .bits256))
            let old = try TokenVault(keys: [(id: "k1", key: oldKey)])
            var accounts: [UUID] = [], instagram: [String] = [], sealed: [ByteBuffer] = []
            for index in 0..<1_000 {
                let account = UUID(), ig = "1784140\(String(format: "%010d", index))"
                accounts.append(account)
                instagram.append(ig)
                sealed.append(ByteBuffer(bytes: try old.seal(Secret("IGAA-token-\(index)"), for: TokenOwner(accountID: account.uuidString.lowercased(), instagramUserID: ig))))
            }
            try await client.query(
                """
                INSERT INTO accounts (id, email, password_hash) SELECT id, id::text || '@example.com', 'x' FROM unnest(\(accounts)::uuid[]) AS t(id)
                """, logger: .quiet("seed"))
            try await client.query(
                """
                INSERT INTO instagram_connections (account_id, ig_user_id, token_sealed)
                SELECT * FROM unnest(\(accounts)::uuid[], \(instagram)::text[], \(sealed)::bytea[])
                """, logger: .quiet("seed"))
            let ring = try TokenVault(keys: [(id: "k2", key: newKey), (id: "k1", key: oldKey)])
            let database = Database(client)
            // An earlier run stopped after 300: the rerun does the other 700.
            let first = try await KeyRotation(database: database, vault: ring, logger: .quiet("r"), batch: 100).run(tokenLimit: 300) { _ in }
            #expect(first.tokensResealed == 300)
            // A mail queued meanwhile, sealed with the old key, is re-sealed too.
            let mail = try old.seal(Secret(#"{"to":"a@example.com"}"#), for: MailJob.owner)
            _ = try await JobQueue(client: client, logger: .quiet("q")).enqueue([NewJob(kind: MailJob.kind, payload: ByteBuffer(bytes: mail))])
            var pages: [String] = []
            let result = try await KeyRotation(database: database, vault: ring, logger: .quiet("r"), batch: 100).run { pages.append($0) }
            #expect(result.tokens == 1_000 && result.tokensResealed == 700 && result.mails == 1 && result.mailsResealed == 1)
            #expect(result.unreadable.isEmpty && result.keysInUse == ["k2"])
            #expect(pages.count == 10, "progress after every page")
            #expect(result.summary(vault: ring).contains("key ids no longer used (may be removed from TOKEN_ENCRYPTION_KEYS): k1"))

            // Every token opens with the new key alone, and is the one it was.
            let newOnly = try TokenVault(keys: [(id: "k2", key: newKey)])
            var opened = 0
            for try await (account, ig, token) in try await client.query(
                "SELECT account_id, ig_user_id, token_sealed FROM instagram_connections", logger: .quiet("check")
            ).decode((UUID, String, ByteBuffer).self) {
                let value = try newOnly.open(Array(buffer: token), for: TokenOwner(accountID: account.uuidString.lowercased(), instagramUserID: ig)).value
                #expect(value == "IGAA-token-\(instagram.firstIndex(of: ig)!)")
                opened += 1
            }
            #expect(opened == 1_000)
            let again = try await KeyRotation(database: database, vault: ring, logger: .quiet("r")).run { _ in }
            #expect(again.tokensResealed == 0 && again.mailsResealed == 0)
        }
    }

    @Test func aTokenNoKeyOpensIsReportedAndLeftAlone() async throws {
        try await TestDatabase.withMigrated { _, client in
            let stranger = try TokenVault(keys: [(id: "gone", key: SymmetricKey(size: .bits256))])
            let account = UUID()
            try await client.query("INSERT INTO accounts (id, email, password_hash) VALUES (\(account), 'lost@example.com', 'x')", logger: .quiet("seed"))
            let sealed = try stranger.seal(Secret("IGAA-x"), for: TokenOwner(accountID: account.uuidString.lowercased(), instagramUserID: "1"))
            try await client.query(
                "INSERT INTO instagram_connections (account_id, ig_user_id, token_sealed) VALUES (\(account), '1', \(ByteBuffer(bytes: sealed)))",
                logger: .quiet("seed"))
            let ring = try TokenVault(keys: [(id: "k2", key: SymmetricKey(size: .bits256))])
            let result = try await KeyRotation(database: Database(client), vault: ring, logger: .quiet("r")).run { _ in }
            #expect(result.unreadable == ["account \(account.uuidString.lowercased())"] && result.keysInUse == ["gone"])
        }
    }
}
