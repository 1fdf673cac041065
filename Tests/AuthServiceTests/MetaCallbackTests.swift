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

/// Issue 13, item 3: Meta's deauthorize and data-deletion callbacks name the account by an id that is most likely not
/// the IG user id webhooks carry (reference §6.1). Every id is kept per connection and any of them matches; either app
/// secret signs; a callback more than a day old is refused; the status page says what was found.
@Suite struct MetaCallbackTests {
    /// Gives the seeded connection of `email` an app-scoped id and a login user id other than its IG user id.
    func setIDs(_ database: TestDatabase, email: String, appScoped: String, login: String) async throws {
        try await database.withClient(logger: .quiet("seed")) { db in
            try await db.query(
                """
                UPDATE instagram_connections SET app_scoped_id = \(appScoped), login_user_id = \(login)
                WHERE account_id = (SELECT id FROM accounts WHERE email = \(email))
                """)
        }
    }

    struct Answer: Decodable { let confirmation_code: String }

    func statusPage(_ client: some TestClientProtocol, _ response: TestResponse) async throws -> String {
        let code = try JSONDecoder().decode(Answer.self, from: Data(response.body.readableBytesView)).confirmation_code
        return String(buffer: try await client.execute(uri: "/meta/data-deletion/\(code)", method: .get).body)
    }

    @Test func theAppScopedIDAndTheLoginUserIDMatchToo() async throws {
        try await withAuth { client, database in
            let ana = Browser(client)
            let bob = Browser(client)
            try await ana.signUpAndIn("scoped-ana@example.com")
            try await bob.signUpAndIn("scoped-bob@example.com")
            _ = try await seedConnectedHistory(database, email: "scoped-ana@example.com", instagramID: "17841400000000201")
            _ = try await seedConnectedHistory(database, email: "scoped-bob@example.com", instagramID: "17841400000000202")
            try await setIDs(database, email: "scoped-ana@example.com", appScoped: "26000000000000201", login: "26000000000000201")
            try await setIDs(database, email: "scoped-bob@example.com", appScoped: "27000000000000202", login: "28000000000000202")

            // Deauthorize names Ana's app-scoped id: her connection goes, Bob's stays.
            #expect(try await form(client, "/meta/deauthorize", signedRequest(metaPayload("26000000000000201"))).status == .ok)
            #expect(try decodeJSON(MeBody.self, from: try await ana.send(.get, "/api/auth/me").body).account.instagram == nil)
            #expect(try decodeJSON(MeBody.self, from: try await bob.send(.get, "/api/auth/me").body).account.instagram != nil)

            // Data deletion names Bob's code-exchange user id: his connection and its history go, and the page says so.
            let deleted = try await form(client, "/meta/data-deletion", signedRequest(metaPayload("28000000000000202")))
            #expect(deleted.status == .ok)
            let page = try await statusPage(client, deleted)
            #expect(page.contains("records it held") && page.contains("access token"))
            #expect(try decodeJSON(MeBody.self, from: try await bob.send(.get, "/api/auth/me").body).account.instagram == nil)
            let export = String(buffer: try await bob.send(.get, "/api/account/export").body)
            #expect(!export.contains("hello there") && !export.contains("cust-9"))
        }
    }

    /// Meta sends deauthorize when the app is removed, and the data-deletion request may follow: the removed
    /// connection's ids are kept (no token) so the second still finds and erases what was derived from it.
    @Test func aDataDeletionAfterADeauthorizeStillErasesTheHistory() async throws {
        try await withAuth { client, database in
            let ana = Browser(client)
            try await ana.signUpAndIn("removed@example.com")
            _ = try await seedConnectedHistory(database, email: "removed@example.com", instagramID: "17841400000000505")
            try await setIDs(database, email: "removed@example.com", appScoped: "26000000000000505", login: "26000000000000505")
            #expect(try await form(client, "/meta/deauthorize", signedRequest(metaPayload("26000000000000505"))).status == .ok)
            #expect(String(buffer: try await ana.send(.get, "/api/account/export").body).contains("hello there"))
            let deleted = try await form(client, "/meta/data-deletion", signedRequest(metaPayload("26000000000000505")))
            let page = try await statusPage(client, deleted)
            #expect(page.contains("records it held") && !page.contains("held no data"))
            let export = String(buffer: try await ana.send(.get, "/api/account/export").body)
            #expect(!export.contains("hello there") && !export.contains("cust-9") && !export.contains("26000000000000505"))
        }
    }

    @Test func theStatusPageSaysWhenNothingWasHeld() async throws {
        try await withAuth { client, _ in
            let answer = try await form(client, "/meta/data-deletion", signedRequest(metaPayload("17841499999999999")))
            #expect(answer.status == .ok)
            let page = try await statusPage(client, answer)
            #expect(page.contains("held no data") && !page.contains("records it held"))
        }
    }

    @Test func aCallbackSignedWithTheInstagramAppSecretIsAccepted() async throws {
        try await withAuth(configure: { $0.instagramAppSecret = Secret("instagram-app-secret") }) { client, database in
            let ana = Browser(client)
            try await ana.signUpAndIn("second-secret@example.com")
            _ = try await seedConnectedHistory(database, email: "second-secret@example.com", instagramID: "17841400000000303")
            let signed = signedRequest(metaPayload("17841400000000303"), secret: "instagram-app-secret")
            #expect(try await form(client, "/meta/deauthorize", signed).status == .ok)
            #expect(try decodeJSON(MeBody.self, from: try await ana.send(.get, "/api/auth/me").body).account.instagram == nil)
            // Any other secret is still refused.
            #expect(try await form(client, "/meta/deauthorize", signedRequest(metaPayload("1"), secret: "a-third-secret")).status == .unauthorized)
        }
    }

    @Test func aCallbackOlderThanADayOrWithoutIssuedAtIsRefused() async throws {
        try await withAuth { client, database in
            let ana = Browser(client)
            try await ana.signUpAndIn("replay@example.com")
            _ = try await seedConnectedHistory(database, email: "replay@example.com", instagramID: "17841400000000404")
            let stale = [
                metaPayload("17841400000000404", issuedAt: Date().addingTimeInterval(-86_400 - 60)),
                metaPayload("17841400000000404", issuedAt: Date().addingTimeInterval(3_600)),
                #"{"algorithm":"HMAC-SHA256","user_id":"17841400000000404"}"#,
            ]
            for payload in stale {
                for uri in ["/meta/deauthorize", "/meta/data-deletion"] {
                    let response = try await form(client, uri, signedRequest(payload))
                    #expect(response.status == .badRequest && errorCode(response) == "stale_signed_request", "\(uri) \(payload)")
                }
            }
            #expect(try decodeJSON(MeBody.self, from: try await ana.send(.get, "/api/auth/me").body).account.instagram != nil)
            // Within the day: accepted.
            let recent = metaPayload("17841400000000404", issuedAt: Date().addingTimeInterval(-86_000))
            #expect(try await form(client, "/meta/deauthorize", signedRequest(recent)).status == .ok)
            #expect(try decodeJSON(MeBody.self, from: try await ana.send(.get, "/api/auth/me").body).account.instagram == nil)
        }
    }
}
