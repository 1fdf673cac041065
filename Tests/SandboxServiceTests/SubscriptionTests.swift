import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import SandboxService

/// The webhook subscription record (`/{ig_id}/subscribed_apps`), as Flowtalk's OAuth connect sets it.
struct SubscriptionTests {
    struct Subscriptions: Decodable, Equatable {
        struct App: Decodable, Equatable { let subscribed_fields: [String] }
        let data: [App]
    }

    static let connectPath = "/v25.0/\(Sandbox.shop)/subscribed_apps?subscribed_fields=messages,messaging_postbacks,message_reactions,messaging_referral"

    func read(_ client: some TestClientProtocol, _ igID: String, token: String) async throws -> TestResponse {
        try await client.execute(uri: "/v25.0/\(igID)/subscribed_apps", method: .get, headers: Sandbox.bearer(token))
    }

    @Test func aSubscriptionIsRecordedForThatAccountOnly() async throws {
        try await Sandbox.app().test(.router) { client in
            // Not subscribed yet: real Graph answers an empty list.
            #expect(String(buffer: try await read(client, Sandbox.shop, token: Sandbox.shopToken).body) == #"{"data":[]}"#)
            let subscribe = try await client.execute(uri: Self.connectPath, method: .post, headers: Sandbox.bearer(Sandbox.shopToken), body: ByteBuffer(string: "{}"))
            #expect(subscribe.status == .ok)
            #expect(String(buffer: subscribe.body) == #"{"success":true}"#)

            let mine = try await read(client, Sandbox.shop, token: Sandbox.shopToken)
            #expect(mine.status == .ok)
            #expect(String(buffer: mine.body) == #"{"data":[{"subscribed_fields":["messages","messaging_postbacks","message_reactions","messaging_referral"]}]}"#)
            let theirs = try Sandbox.decode(Subscriptions.self, try await read(client, Sandbox.other, token: Sandbox.otherToken).body)
            #expect(theirs == Subscriptions(data: []))

            // Unsubscribing empties it again.
            #expect(try await client.execute(uri: "/v25.0/\(Sandbox.shop)/subscribed_apps", method: .delete, headers: Sandbox.bearer(Sandbox.shopToken)).status == .ok)
            #expect(try Sandbox.decode(Subscriptions.self, try await read(client, Sandbox.shop, token: Sandbox.shopToken).body).data.isEmpty)
        }
    }

    @Test func aBadTokenOrUnknownAccountIsRefusedAndRecordsNothing() async throws {
        try await Sandbox.app().test(.router) { client in
            let refusals: [(TestResponse, Int, Int?)] = [
                // Another account's token, a token nobody was given, no token.
                (try await client.execute(uri: Self.connectPath, method: .post, headers: Sandbox.bearer(Sandbox.otherToken)), 190, nil),
                (try await client.execute(uri: Self.connectPath, method: .post, headers: Sandbox.bearer("IGAA-nobody")), 190, nil),
                (try await client.execute(uri: Self.connectPath, method: .post), 190, nil),
                (try await read(client, Sandbox.shop, token: Sandbox.otherToken), 190, nil),
                // An id the sandbox does not know.
                (
                    try await client.execute(
                        uri: "/v25.0/17841400000000999/subscribed_apps?subscribed_fields=messages", method: .post, headers: Sandbox.bearer(Sandbox.shopToken)),
                    100, 33
                ),
                // No fields, or a field Instagram does not have.
                (try await client.execute(uri: "/v25.0/\(Sandbox.shop)/subscribed_apps", method: .post, headers: Sandbox.bearer(Sandbox.shopToken)), 100, nil),
                (
                    try await client.execute(
                        uri: "/v25.0/\(Sandbox.shop)/subscribed_apps?subscribed_fields=messages,feed", method: .post, headers: Sandbox.bearer(Sandbox.shopToken)),
                    100, nil
                ),
            ]
            for (response, code, subcode) in refusals {
                #expect(response.status == .badRequest)
                let error = try Sandbox.decode(GraphErrorBody.self, response.body).error
                #expect(error.code == code && error.error_subcode == subcode && error.type == "IGApiException")
            }
            #expect(try Sandbox.decode(Subscriptions.self, try await read(client, Sandbox.shop, token: Sandbox.shopToken).body).data.isEmpty)
        }
    }

    @Test func aTokenIssuedByOAuthSubscribesItsAccount() async throws {
        try await Sandbox.app().test(.router) { client in
            // The connect's steps: authorize → code → short-lived token → long-lived token → subscribe.
            let authorize = try await client.execute(
                uri: "/oauth/authorize?client_id=app&redirect_uri=http%3A%2F%2Fflowtalk.test%2Fcallback&response_type=code&state=s1", method: .get)
            #expect(authorize.status == .found)
            let location = try #require(authorize.headers[.location])
            let code = try #require(URLComponents(string: location)?.queryItems?.first(where: { $0.name == "code" })?.value)
            #expect(location.hasPrefix("http://flowtalk.test/callback?") && location.contains("state=s1"))
            let exchange = try await client.execute(
                uri: "/oauth/access_token", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "client_id=app&client_secret=s&grant_type=authorization_code&redirect_uri=x&code=\(code)"))
            struct Short: Decodable {
                let access_token: String
                let user_id: Int64
            }
            let short = try Sandbox.decode(Short.self, exchange.body)
            // Like Meta, the code exchange names the app-scoped id, not the IG user id webhooks carry.
            let appScoped = "9" + String(Sandbox.shop.reversed())
            #expect(short.user_id == Int64(appScoped))
            // A code works once.
            let again = try await client.execute(
                uri: "/oauth/access_token", method: .post, body: ByteBuffer(string: "grant_type=authorization_code&code=\(code)"))
            struct OAuthError: Decodable { let error_type: String }
            #expect(again.status == .badRequest)
            #expect(try Sandbox.decode(OAuthError.self, again.body).error_type == "OAuthException")
            struct Long: Decodable {
                let access_token: String
                let token_type: String
                let expires_in: Int
            }
            let long = try Sandbox.decode(
                Long.self, try await client.execute(uri: "/access_token?grant_type=ig_exchange_token&access_token=\(short.access_token)", method: .get).body)
            #expect(long.expires_in == 5_184_000 && long.token_type == "bearer")
            let me = try await client.execute(uri: "/v25.0/me?fields=user_id,username", method: .get, headers: Sandbox.bearer(long.access_token))
            #expect(String(buffer: me.body) == #"{"id":"\#(appScoped)","user_id":\#(Sandbox.shop),"username":"shop"}"#)
            #expect(try await client.execute(uri: Self.connectPath, method: .post, headers: Sandbox.bearer(long.access_token)).status == .ok)
            let fields = try Sandbox.decode(Subscriptions.self, try await read(client, Sandbox.shop, token: long.access_token).body)
            #expect(fields == Subscriptions(data: [.init(subscribed_fields: ["messages", "messaging_postbacks", "message_reactions", "messaging_referral"])]))
        }
    }
}
