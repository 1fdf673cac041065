import Crypto
import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import FlowtalkTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import Testing

@testable import AuthService

/// `signed_request` as Meta builds it.
func signedRequest(_ payload: String, secret: String = TestSecrets.metaAppSecret) -> String {
    func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
    let body = base64URL(Array(payload.utf8))
    let signature = HMAC<SHA256>.authenticationCode(for: Array(body.utf8), using: SymmetricKey(data: Array(secret.utf8)))
    return base64URL(signature) + "." + body
}

/// A fresh callback payload for `userID` (Meta's shape: `issued_at` in seconds, `user_id` a string).
func metaPayload(_ userID: String, issuedAt: Date = Date()) -> String {
    #"{"algorithm":"HMAC-SHA256","issued_at":\#(Int(issuedAt.timeIntervalSince1970)),"user_id":"\#(userID)"}"#
}

func form(_ client: some TestClientProtocol, _ uri: String, _ signed: String) async throws -> TestResponse {
    try await client.execute(
        uri: uri, method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
        body: ByteBuffer(string: "signed_request=" + (signed.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")))
}

/// Seeds a connected Instagram account and some history for the signed-in account with `email`.
func seedConnectedHistory(_ database: TestDatabase, email: String, instagramID: String) async throws -> UUID {
    try await database.withClient(logger: .quiet("seed")) { db in
        var account = UUID()
        for try await id in try await db.query("SELECT id FROM accounts WHERE email = \(email)").decode(UUID.self) { account = id }
        let vault = try TokenVault(keys: [(id: "test", key: SymmetricKey(size: .bits256))])
        let sealed = try vault.seal(Secret("IGAA-CANARY-token"), for: TokenOwner(accountID: account.uuidString.lowercased(), instagramUserID: instagramID))
        try await db.query(
            "INSERT INTO instagram_connections (account_id, ig_user_id, username, token_sealed) VALUES (\(account), \(instagramID), 'shop', \(ByteBuffer(bytes: sealed)))")
        try await db.query("INSERT INTO conversations (account_id, customer_id) VALUES (\(account), 'cust-9')")
        try await db.query(
            "INSERT INTO activity (account_id, customer_id, event_kind, summary, outcome, reason) VALUES (\(account), 'cust-9', 'message', 'hello there', 'skipped', 'no_rule')")
        try await db.query("INSERT INTO hourly_counts (account_id, hour, metric, count) VALUES (\(account), date_trunc('hour', now()), 'received', 3)")
        try await db.query(
            "INSERT INTO replies (account_id, inbound_mid, customer_id, state, source) VALUES (\(account), \("mid-9-\(instagramID)"), 'cust-9', 'sent', 'rule')")
        try await db.query("INSERT INTO handled_events (mid, kind, account_id) VALUES (\("mid-9-\(instagramID)"), 'message', \(account))")
        try await db.query(
            "INSERT INTO jobs (kind, payload, serialization_key) VALUES ('inbound.message', 'x'::bytea, \("conv:\(instagramID):cust-9"))")
        return account
    }
}

@Suite struct DataRightsTests {
    @Test func exportHasEverythingAndNoSecret() async throws {
        try await withAuth { client, database in
            let ana = Browser(client)
            try await ana.signUpAndIn("export@example.com", "pw-CANARY-export-1")
            _ = try await ana.send(.post, "/api/rules", #"{"keywords":["price"],"reply":"From 10 EUR."}"#)
            _ = try await ana.send(.put, "/api/ice-breakers", #"{"items":[{"question":"Hours?","answer":"9-18"}]}"#)
            _ = try await seedConnectedHistory(database, email: "export@example.com", instagramID: "17841400000000777")
            let response = try await ana.send(.get, "/api/account/export")
            #expect(response.status == .ok)
            let text = String(buffer: response.body)
            let document = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            for key in ["account", "instagram_connection", "rules", "settings", "ice_breakers", "conversations", "replies", "activity", "counts", "ai_usage"] {
                #expect(document[key] != nil && !(document[key] is NSNull), "\(key)")
            }
            #expect(text.contains("export@example.com") && text.contains("From 10 EUR.") && text.contains("hello there") && text.contains("17841400000000777"))
            for secret in ["password_hash", "token_sealed", "IGAA-CANARY", "pw-CANARY", "v1$"] { #expect(!text.contains(secret), "\(secret)") }
        }
    }

    /// The test enumerates the tables from the catalogue, so a table added later cannot be missed.
    @Test func deletingTheAccountLeavesNoRowOfItAnywhere() async throws {
        try await withAuth { client, database in
            let ana = Browser(client)
            let bob = Browser(client)
            try await ana.signUpAndIn("gone@example.com", "pw-delete-me-please")
            try await bob.signUpAndIn("stays@example.com")
            _ = try await ana.send(.post, "/api/rules", #"{"keywords":["price"],"reply":"From 10 EUR."}"#)
            _ = try await ana.send(.put, "/api/ice-breakers", #"{"items":[{"question":"Hours?","answer":"9-18"}]}"#)
            _ = try await bob.send(.post, "/api/rules", #"{"keywords":["bob"],"reply":"Bob's"}"#)
            let account = try await seedConnectedHistory(database, email: "gone@example.com", instagramID: "17841400000000888")
            _ = try await ana.send(.post, "/api/auth/login", #"{"email":"gone@example.com","password":"wrong password!"}"#)

            #expect(try await ana.send(.delete, "/api/account", #"{"password":"not it at all"}"#).status == .unauthorized)
            let deleted = try await ana.send(.delete, "/api/account", #"{"password":"pw-delete-me-please"}"#)
            #expect(deleted.status == .noContent)
            #expect(try await ana.send(.get, "/api/auth/me").status == .unauthorized)

            let leftovers = try await database.withClient(logger: .quiet("scan")) { db in
                var tables: [String] = []
                for try await name in try await db.query("SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()").decode(String.self) {
                    tables.append(name)
                }
                var found: [String] = []
                for table in tables {
                    for needle in [account.uuidString.lowercased(), "gone@example.com", "17841400000000888"] {
                        let rows = try await db.query(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table) t WHERE strpos(t::text, '\(needle)') > 0"))
                        for try await n in rows.decode(Int.self) where n > 0 { found.append("\(table): \(n) row(s) with \(needle)") }
                    }
                }
                return (tables, found)
            }
            #expect(leftovers.0.count >= 15)
            #expect(leftovers.1.isEmpty, "\(leftovers.1)")
            // The other account is untouched.
            #expect(String(buffer: try await bob.send(.get, "/api/rules").body).contains("Bob's"))
        }
    }

    @Test func metaCallbacksVerifyTheSignedRequest() async throws {
        try await withAuth { client, database in
            let ana = Browser(client)
            try await ana.signUpAndIn("meta@example.com")
            _ = try await seedConnectedHistory(database, email: "meta@example.com", instagramID: "17841400000000999")
            // Refused: missing, malformed, bad base64url, wrong signature, other algorithm.
            #expect(try await form(client, "/meta/data-deletion", "nodot").status == .badRequest)
            #expect(try await form(client, "/meta/data-deletion", "%%%.%%%").status == .badRequest)
            #expect(try await form(client, "/meta/data-deletion", signedRequest(metaPayload("17841400000000999"), secret: "wrong")).status == .unauthorized)
            #expect(try await form(client, "/meta/data-deletion", signedRequest(#"{"algorithm":"RSA","user_id":"17841400000000999"}"#)).status == .badRequest)
            #expect(try await client.execute(uri: "/meta/data-deletion", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"], body: ByteBuffer(string: "x=1")).status == .badRequest)

            let accepted = try await form(client, "/meta/data-deletion", signedRequest(metaPayload("17841400000000999")))
            #expect(accepted.status == .ok)
            struct Answer: Decodable {
                let url: String
                let confirmation_code: String
            }
            let answer = try JSONDecoder().decode(Answer.self, from: Data(accepted.body.readableBytesView))
            #expect(answer.url.hasSuffix("/meta/data-deletion/\(answer.confirmation_code)"))
            let status = try await client.execute(uri: "/meta/data-deletion/\(answer.confirmation_code)", method: .get)
            #expect(status.status == .ok && String(buffer: status.body).contains("completed"))
            // The Instagram-derived data is gone; the Flowtalk account remains.
            let me = try await ana.send(.get, "/api/auth/me")
            #expect(me.status == .ok)
            #expect(try decodeJSON(MeBody.self, from: me.body).account.instagram == nil)
            let export = String(buffer: try await ana.send(.get, "/api/account/export").body)
            #expect(!export.contains("hello there") && !export.contains("17841400000000999"))
            // An unknown user still gets a confirmation code (no enumeration).
            #expect(try await form(client, "/meta/data-deletion", signedRequest(metaPayload("1"))).status == .ok)
            #expect(try await client.execute(uri: "/meta/data-deletion/abcdef", method: .get).status == .notFound)
        }
    }

    @Test func deauthorizeRemovesTheConnection() async throws {
        try await withAuth { client, database in
            let ana = Browser(client)
            try await ana.signUpAndIn("deauth@example.com")
            _ = try await seedConnectedHistory(database, email: "deauth@example.com", instagramID: "17841400000000111")
            #expect(String(buffer: try await ana.send(.get, "/api/auth/me").body).contains("17841400000000111"))
            #expect(try await form(client, "/meta/deauthorize", signedRequest(metaPayload("17841400000000111"))).status == .ok)
            #expect(!String(buffer: try await ana.send(.get, "/api/auth/me").body).contains("17841400000000111"))
        }
    }

    @Test func theOAuthCallbackRefusesForgedStatesAndIsRateLimited() async throws {
        try await withAuth { client, database in
            let ana = Browser(client)
            try await ana.signUpAndIn("oauth@example.com")
            try await ana.verifyEmail("oauth@example.com", Mailbox(database: database))
            let connect = try await ana.send(.post, "/api/instagram/connect", "{}")
            #expect(connect.status == .ok)
            struct Started: Decodable { let authorize_url: String }
            let location = try decodeJSON(Started.self, from: connect.body).authorize_url
            #expect(location.contains("scope=instagram_business_basic,instagram_business_manage_messages") && location.contains("state="))
            // A state that was never issued (or belongs to another session) goes back to the dashboard as an error.
            let forged = try await ana.send(.get, "/api/instagram/callback?code=abc&state=forged")
            #expect(forged.status == .found)
            #expect(forged.headers[.location]?.hasSuffix("?instagram=error&reason=expired_or_invalid_state") == true)
            // Without a session: 401. Past 20 callbacks in 15 minutes: 429.
            #expect(try await Browser(client).send(.get, "/api/instagram/callback?code=abc&state=x").status == .unauthorized)
            var last = HTTPResponse.Status.ok
            for _ in 0..<20 { last = try await ana.send(.get, "/api/instagram/callback?code=abc&state=forged").status }
            #expect(last == .tooManyRequests)
        }
    }

    /// Starting a connection writes a single-use state bound to the session, so it is a same-origin POST: a cross-site link
    /// or image (a GET) cannot start one, nor can a cross-site form. Past 20 starts in 15 minutes: 429.
    @Test func startingAConnectionIsASameOriginPostAndRateLimited() async throws {
        try await withAuth { client, database in
            let ana = Browser(client)
            try await ana.signUpAndIn("connect@example.com")
            try await ana.verifyEmail("connect@example.com", Mailbox(database: database))
            let viaLink = try await ana.send(.get, "/api/instagram/connect")
            #expect(viaLink.status != .found && viaLink.headers[.location] == nil)
            let crossSite = try await ana.send(.post, "/api/instagram/connect", "{}", headers: [.origin: "https://evil.example", .secFetchSite: "cross-site"])
            #expect(crossSite.status == .forbidden && errorCode(crossSite) == "cross_site_request")
            #expect(try await Browser(client).send(.post, "/api/instagram/connect", "{}").status == .unauthorized)
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<21 { statuses.append(try await ana.send(.post, "/api/instagram/connect", "{}").status) }
            #expect(statuses.prefix(20).allSatisfy { $0 == .ok } && statuses.last == .tooManyRequests)
            var disconnects: [HTTPResponse.Status] = []
            for _ in 0..<21 { disconnects.append(try await ana.send(.post, "/api/instagram/disconnect", "{}").status) }
            #expect(disconnects.prefix(20).allSatisfy { $0 == .noContent } && disconnects.last == .tooManyRequests)
        }
    }

    /// Issue 12: Meta's callbacks had no rate limit. Past 300 in 5 minutes from one address, junk costs a 429, not a
    /// signature check and a database call each; the status page counts too.
    @Test func metaCallbacksAreRateLimitedPerAddress() async throws {
        try await withAuth { client, _ in
            var statuses: [HTTPResponse.Status] = []
            for index in 0..<DataRightsController.metaLimit.count {
                let uri = index % 3 == 2 ? "/meta/data-deletion/abc123" : (index % 2 == 0 ? "/meta/deauthorize" : "/meta/data-deletion")
                statuses.append(index % 3 == 2 ? try await client.execute(uri: uri, method: .get).status : try await form(client, uri, "junk").status)
            }
            #expect(!statuses.contains(.tooManyRequests))
            let over = try await form(client, "/meta/deauthorize", "junk")
            #expect(over.status == .tooManyRequests && errorCode(over) == "rate_limited" && over.headers[.retryAfter] != nil)
        }
    }
}
