import FlowtalkCore
import FlowtalkStore
import FlowtalkTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Testing

@testable import AuthService

/// Issue 13, item 6: a business answers its own customer's request: find what it holds about them (by id or by a phrase
/// of their message), export it as JSON, or erase it, and nothing of another customer or another account is touched.
@Suite struct CustomerRequestTests {
    struct Found: Decodable {
        struct Customer: Decodable {
            let customer_id: String
            let activity_entries: Int
        }
        let customers: [Customer]
    }

    /// Ana's account with two customers' history (cust-9 from `seedConnectedHistory`, cust-7 here) and a queued message.
    func seed(_ database: TestDatabase) async throws -> UUID {
        let account = try await seedConnectedHistory(database, email: "shop-owner@example.com", instagramID: "17841400000000808")
        try await database.withClient(logger: .quiet("seed")) { db in
            try await db.query(
                """
                INSERT INTO activity (account_id, customer_id, event_kind, summary, outcome, reason)
                VALUES (\(account), 'cust-7', 'message', 'Do you ship to Lisbon?', 'skipped', 'no_rule')
                """)
            try await db.query("INSERT INTO conversations (account_id, customer_id) VALUES (\(account), 'cust-7')")
        }
        return account
    }

    func count(_ database: TestDatabase, _ sql: PostgresQuery) async throws -> Int {
        try await database.withClient(logger: .quiet("count")) { db in
            for try await n in try await db.query(sql).decode(Int.self) { return n }
            return -1
        }
    }

    @Test func aCustomerIsFoundByIdOrPhraseExportedAndErased() async throws {
        try await withAuth { client, database in
            let ana = Browser(client)
            try await ana.signUpAndIn("shop-owner@example.com")
            _ = try await seed(database)

            let byPhrase = try decodeJSON(Found.self, from: try await ana.send(.get, "/api/customers?q=HELLO%20th").body)
            #expect(byPhrase.customers.map(\.customer_id) == ["cust-9"])
            let byID = try decodeJSON(Found.self, from: try await ana.send(.get, "/api/customers?q=cust-7").body)
            #expect(byID.customers.map(\.customer_id) == ["cust-7"] && byID.customers[0].activity_entries == 1)
            // A wildcard is a literal character, not "everything".
            #expect(try decodeJSON(Found.self, from: try await ana.send(.get, "/api/customers?q=%25%25%25").body).customers.isEmpty)
            let short = try await ana.send(.get, "/api/customers?q=ab")
            #expect(short.status == .badRequest && errorCode(short) == "invalid_query")

            let export = try await ana.send(.get, "/api/customers/cust-9")
            #expect(export.status == .ok && export.headers[.contentDisposition]?.contains("attachment") == true)
            let document = try #require(try JSONSerialization.jsonObject(with: Data(export.body.readableBytesView)) as? [String: Any])
            #expect(document["format"] as? String == "flowtalk-customer-export/1" && document["customer_id"] as? String == "cust-9")
            #expect((document["activity"] as? [Any])?.count == 1 && (document["replies"] as? [Any])?.count == 1 && document["queued_messages"] as? Int == 1)
            #expect(!String(buffer: export.body).contains("Lisbon"))

            let erased = try await ana.send(.delete, "/api/customers/cust-9")
            #expect(erased.status == .ok)
            struct Erased: Decodable {
                struct Counts: Decodable { let activity, conversations, replies, queued_messages: Int }
                let erased: Counts
            }
            let counts = try decodeJSON(Erased.self, from: erased.body).erased
            #expect(counts.activity == 1 && counts.conversations == 1 && counts.replies == 1 && counts.queued_messages == 1)
            for sql: PostgresQuery in [
                "SELECT count(*)::int FROM activity WHERE customer_id = 'cust-9'", "SELECT count(*)::int FROM conversations WHERE customer_id = 'cust-9'",
                "SELECT count(*)::int FROM replies WHERE customer_id = 'cust-9'", "SELECT count(*)::int FROM jobs WHERE serialization_key LIKE '%cust-9'",
            ] { #expect(try await count(database, sql) == 0, "\(sql.sql)") }
            #expect(try await ana.send(.get, "/api/customers/cust-9").status == .notFound)
            // The other customer is untouched.
            #expect(try await count(database, "SELECT count(*)::int FROM activity WHERE customer_id = 'cust-7'") == 1)
            // Erasing again is harmless.
            #expect(try await ana.send(.delete, "/api/customers/cust-9").status == .ok)
        }
    }

    @Test func anotherAccountSeesAndErasesNothingOfThem() async throws {
        try await withAuth { client, database in
            let ana = Browser(client)
            try await ana.signUpAndIn("shop-owner@example.com")
            _ = try await seed(database)
            let mallory = Browser(client)
            try await mallory.signUpAndIn("mallory@example.com")
            #expect(try decodeJSON(Found.self, from: try await mallory.send(.get, "/api/customers?q=cust-9").body).customers.isEmpty)
            #expect(try await mallory.send(.get, "/api/customers/cust-9").status == .notFound)
            #expect(try await mallory.send(.delete, "/api/customers/cust-9").status == .ok)
            #expect(try await count(database, "SELECT count(*)::int FROM activity WHERE customer_id = 'cust-9'") == 1)
            #expect(try await Browser(client).send(.get, "/api/customers/cust-9").status == .unauthorized)
            let bad = try await ana.send(.get, "/api/customers/%20bad%00id")
            #expect(bad.status == .badRequest || bad.status == .notFound)
        }
    }
}
