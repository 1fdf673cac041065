import AsyncHTTPClient
import FlowtalkCore
import FlowtalkStore
import FlowtalkTesting
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import Testing

/// A business owner's whole path over the real binaries: sign up, sign in, connect Instagram through the OAuth round
/// trip (the sandbox plays Instagram), write a rule, and a customer's DM is answered by it.
@Suite(.serialized) struct FullFlowTests {
    /// `GET /{ig_id}/subscribed_apps` on the sandbox: the `subscribed_fields` of each app subscribed (none: `[]`).
    static func subscribedFields(_ sandbox: String, _ igID: String, token: String) async throws -> [[String]] {
        struct Subscriptions: Decodable {
            struct App: Decodable { let subscribed_fields: [String] }
            let data: [App]
        }
        var request = HTTPClientRequest(url: "\(sandbox)/v25.0/\(igID)/subscribed_apps")
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 16)
        #expect(response.status == .ok)
        return try JSONDecoder().decode(Subscriptions.self, from: Data(String(buffer: body).utf8)).data.map(\.subscribed_fields)
    }

    @Test func signUpConnectWriteARuleAndGetADMAnswered() async throws {
        try await TestDatabase.withMigrated { database, client in
            let url = database.url + (database.url.contains("?") ? "&" : "?") + "search_path=\(database.schema)"
            let shop = "17841400000000555"
            let ports = try (0..<5).map { _ in try RealBinariesTests.freePort() }
            let smtp = try RealBinariesTests.freePort()
            let (auth, ingest, dispatch, sandbox, analytics) = (ports[0], ports[1], ports[2], ports[3], ports[4])
            let base = "http://127.0.0.1:\(auth)"
            let sandboxURL = "http://127.0.0.1:\(sandbox)"
            let (vault, keyRing) = TokenVault.testing()
            let common = [
                "DATABASE_URL": url, "HOST": "127.0.0.1", "META_APP_ID": "e2e-app", "META_APP_SECRET": "e2e-secret", "META_VERIFY_TOKEN": "vt",
                "TOKEN_ENCRYPTION_KEYS": keyRing, "PASSWORD_PEPPER": "e2e-pepper", "BCRYPT_COST": "10", "PUBLIC_URL": base, "COOKIE_SECURE": "false",
                "INSTAGRAM_GRAPH_URL": sandboxURL, "INSTAGRAM_OAUTH_URL": sandboxURL, "INSTAGRAM_API_URL": sandboxURL,
                "INGEST_URL": "http://127.0.0.1:\(ingest)", "SANDBOX_ACCOUNTS": "\(shop):shop:unused-initial-token",
                "FLOWTALK_ENV": "development", "SANDBOX_SMTP_PORT": "\(smtp)", "SMTP_URL": "smtp://127.0.0.1:\(smtp)?tls=none",
            ]
            var processes: [ServiceProcess] = []
            for (name, port) in [("flowtalk-sandbox", sandbox), ("flowtalk-auth", auth), ("flowtalk-ingest", ingest), ("flowtalk-dispatch", dispatch),
                                 ("flowtalk-analytics", analytics)] {
                processes.append(try ServiceProcess(name, environment: common.merging(["PORT": "\(port)"]) { $1 }))
            }
            let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
            do {
                for port in ports { try await waitUntilReady("http://127.0.0.1:\(port)") }
                var cookie = ""
                func call(_ method: HTTPMethod, _ target: String, _ json: String? = nil) async throws -> (HTTPResponseStatus, HTTPHeaders, String) {
                    var request = HTTPClientRequest(url: target.hasPrefix("http") ? target : base + target)
                    request.method = method
                    request.headers.add(name: "Origin", value: base)
                    request.headers.add(name: "Content-Type", value: "application/json")
                    if !cookie.isEmpty { request.headers.add(name: "Cookie", value: "ft_session=\(cookie)") }
                    if let json { request.body = .bytes(ByteBuffer(string: json)) }
                    let response = try await http.execute(request, timeout: .seconds(15))
                    let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
                    if let set = response.headers["Set-Cookie"].first(where: { $0.hasPrefix("ft_session=") }) {
                        cookie = String(set.dropFirst("ft_session=".count).prefix { $0 != ";" })
                    }
                    return (response.status, response.headers, body)
                }
                #expect(try await call(.POST, "/api/auth/signup", #"{"email":"owner@example.com","password":"a long enough passphrase"}"#).0 == .created)
                #expect(try await call(.POST, "/api/auth/login", #"{"email":"owner@example.com","password":"a long enough passphrase"}"#).0 == .ok)
                // Only a verified address may connect Instagram: auth's mail worker sends the verification mail over SMTP
                // to the sandbox's catcher; open its link.
                struct Caught: Decodable {
                    struct Message: Decodable { let to: [String]; let text: String }
                    let messages: [Message]
                }
                var link: String?
                try await eventually("the verification mail in the sandbox's catcher") {
                    let (_, _, caught) = try await call(.GET, sandboxURL + "/sandbox/mail?to=owner@example.com")
                    link = try decodeJSON(Caught.self, from: caught).messages.last?.text
                        .components(separatedBy: .whitespacesAndNewlines).first { $0.hasPrefix(base + "/verify-email?token=") }
                    return link != nil
                }
                let verification = String(try #require(link).dropFirst((base + "/verify-email?token=").count))
                #expect(try await call(.POST, "/api/auth/verify", #"{"token":"\#(verification)"}"#).0 == .ok)

                // Connect: Flowtalk → Instagram's authorize page → back to the callback with a code.
                let (connectStatus, _, started) = try await call(.POST, "/api/instagram/connect", "{}")
                #expect(connectStatus == .ok)
                struct Started: Decodable { let authorize_url: String }
                let authorize = try decodeJSON(Started.self, from: started).authorize_url
                #expect(authorize.hasPrefix(sandboxURL + "/oauth/authorize?") && authorize.contains("client_id=e2e-app") && authorize.contains("state="))
                let (approveStatus, approveHeaders, _) = try await call(.GET, authorize)
                #expect(approveStatus == .found)
                let callback = try #require(approveHeaders["Location"].first)
                #expect(callback.hasPrefix(base + "/api/instagram/callback?") && callback.contains("code="))
                let (doneStatus, doneHeaders, _) = try await call(.GET, callback)
                #expect(doneStatus == .found)
                #expect(doneHeaders["Location"].first == base + "/?instagram=connected")
                // The same state cannot be used twice.
                #expect(try await call(.GET, callback).1["Location"].first?.contains("expired_or_invalid_state") == true)

                let (_, _, me) = try await call(.GET, "/api/auth/me")
                let instagram = try decodeJSON(MeBody.self, from: me).account.instagram
                #expect(instagram?.instagram_user_id == shop && instagram?.username == "shop")
                #expect(!me.contains("IGAA"))
                // Meta's callbacks may name the app-scoped id or the code exchange's user id (the sandbox, like Meta, gives
                // one other than the IG user id): the connection keeps both.
                var ids: (String?, String?)?
                for try await row in try await client.query("SELECT app_scoped_id, login_user_id FROM instagram_connections WHERE ig_user_id = \(shop)")
                    .decode((String?, String?).self)
                { ids = row }
                #expect(ids?.0 == "9" + String(shop.reversed()) && ids?.1 == "9" + String(shop.reversed()))
                // The connect subscribed this account to the messaging webhooks: read the record back from the sandbox's
                // Graph API with the account's own token (as stored, sealed, by auth).
                var sealed: (UUID, ByteBuffer)?
                for try await row in try await client.query("SELECT account_id, token_sealed FROM instagram_connections WHERE ig_user_id = \(shop)")
                    .decode((UUID, ByteBuffer).self)
                { sealed = row }
                let (accountID, sealedToken) = try #require(sealed)
                let token = try vault.open(
                    Array(buffer: sealedToken), for: TokenOwner(accountID: accountID.uuidString.lowercased(), instagramUserID: shop))
                #expect(try await Self.subscribedFields(sandboxURL, shop, token: token.value) == [["messages", "messaging_postbacks", "message_reactions", "messaging_referral"]])

                #expect(try await call(.POST, "/api/rules", #"{"keywords":["opening hours"],"reply":"We open at nine."}"#).0 == .created)
                _ = try await ReplyLoopTests.post("\(sandboxURL)/simulate/dm", #"{"ig_id":"\#(shop)","from":"first-customer","text":"What are your opening hours?"}"#)
                var answered: [String] = []
                for _ in 0..<300 where answered.isEmpty {
                    let (_, body) = try await RealBinariesTests.get("\(sandboxURL)/simulate/conversations/\(shop)")
                    let conversation = try JSONDecoder().decode(ReplyLoopTests.Conversation.self, from: Data(body.utf8))
                    answered = conversation.messages.filter { $0.direction == "out" && $0.customer_id == "first-customer" }.map(\.text)
                    if answered.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
                }
                #expect(answered == ["We open at nine."])

                // Disconnect: the token is gone from the database.
                #expect(try await call(.POST, "/api/instagram/disconnect", "{}").0 == .noContent)
                var connections = -1
                for try await n in try await client.query("SELECT count(*) FROM instagram_connections").decode(Int.self) { connections = n }
                #expect(connections == 0)
                // And the disconnect unsubscribed it.
                #expect(try await Self.subscribedFields(sandboxURL, shop, token: token.value) == [])
            } catch {
                try? await http.shutdown()
                for process in processes { _ = try? await process.stop() }
                throw error
            }
            try await http.shutdown()
            for process in processes {
                let log = process.outputSoFar
                #expect(!log.contains("a long enough passphrase") && !log.contains("IGAA-sandbox") && !log.contains("opening hours"))
                #expect(try await process.stop() == 0)
            }
        }
    }
}
