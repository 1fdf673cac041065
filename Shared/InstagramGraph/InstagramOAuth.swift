import AsyncHTTPClient
import FlowtalkCore
import Foundation
import NIOCore
import NIOHTTP1

/// Instagram Login (reference §5–6): the authorize URL, code exchange, long-lived token, `/me` and the webhook
/// subscription. Secrets go in request bodies or headers where the API allows; URLs that must carry them are never logged.
package struct InstagramOAuth: Sendable {
    package struct Configuration: Sendable {
        /// `META_APP_ID`: the Instagram app id of Instagram Login.
        package var appID: String
        /// `META_APP_SECRET`.
        package var appSecret: Secret<String>
        /// `INSTAGRAM_OAUTH_URL` (authorize page), default `https://www.instagram.com`.
        package var oauthURL: String
        /// `INSTAGRAM_API_URL` (code exchange), default `https://api.instagram.com`.
        package var apiURL: String
        package var graph: GraphConfiguration

        package init(appID: String, appSecret: Secret<String>, oauthURL: String, apiURL: String, graph: GraphConfiguration) {
            self.appID = appID
            self.appSecret = appSecret
            self.oauthURL = oauthURL
            self.apiURL = apiURL
            self.graph = graph
        }
    }

    /// The scopes messaging needs.
    package static let scopes = "instagram_business_basic,instagram_business_manage_messages"

    package let configuration: Configuration
    let graph: GraphClient

    package init(configuration: Configuration, http: HTTPClient = .outbound) {
        self.configuration = configuration
        self.graph = GraphClient(configuration: configuration.graph, http: http)
    }

    /// Where to send the business to grant access.
    package func authorizeURL(redirectURI: String, state: String) -> String {
        var components = URLComponents(string: configuration.oauthURL + "/oauth/authorize")!
        components.queryItems = [
            URLQueryItem(name: "client_id", value: configuration.appID), URLQueryItem(name: "redirect_uri", value: redirectURI),
            URLQueryItem(name: "response_type", value: "code"), URLQueryItem(name: "scope", value: Self.scopes),
            URLQueryItem(name: "state", value: state),
        ]
        return components.string!
    }

    /// A connected account: its ids (the IG user id webhooks carry, the app-scoped id, the code exchange's user id,
    /// kept to match Meta's callbacks), its username and its long-lived token.
    package struct Connected: Sendable {
        package let userID: String
        package let appScopedID: String?
        package let loginUserID: String?
        package let username: String?
        package let token: Secret<String>
        package let expiresIn: Int
    }

    /// Code → short-lived token → long-lived token → the account (`/me`), then subscribes it to the messaging webhooks.
    package func connect(code: String, redirectURI: String) async throws -> Connected {
        let short = try await exchange(code: code, redirectURI: redirectURI)
        let long = try await longLived(short.token)
        let me = try await graph.identity(long.token)
        _ = try await graph.call(
            .POST, path: "/\(configuration.graph.version)/\(me.userID)/subscribed_apps?subscribed_fields=messages,messaging_postbacks,message_reactions,messaging_referral",
            body: Array("{}".utf8), token: long.token)
        return Connected(
            userID: me.userID, appScopedID: me.appScopedID, loginUserID: short.userID, username: me.username, token: long.token,
            expiresIn: long.expiresIn)
    }

    /// Stops the webhooks for an account (best effort at disconnect).
    package func unsubscribe(userID: String, token: Secret<String>) async throws {
        _ = try await graph.call(.DELETE, path: "/\(configuration.graph.version)/\(userID)/subscribed_apps", body: nil, token: token)
    }

    private func exchange(code: String, redirectURI: String) async throws -> (token: Secret<String>, userID: String?) {
        var form = URLComponents()
        form.queryItems = [
            URLQueryItem(name: "client_id", value: configuration.appID), URLQueryItem(name: "client_secret", value: configuration.appSecret.value),
            URLQueryItem(name: "grant_type", value: "authorization_code"), URLQueryItem(name: "redirect_uri", value: redirectURI),
            URLQueryItem(name: "code", value: code),
        ]
        var request = HTTPClientRequest(url: configuration.apiURL + "/oauth/access_token")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: form.percentEncodedQuery ?? ""))
        let response: HTTPClientResponse
        do {
            response = try await graph.http.execute(request, timeout: configuration.graph.timeout)
        } catch {
            throw GraphError.transient("connect")
        }
        let payload = Array(buffer: try await response.body.collect(upTo: 64 * 1024))
        guard let document = try? JSONValue.parse(payload) else { throw GraphError.malformedResponse }
        // Documented shape: {"data":[{...}]}; observed: flat {"access_token","user_id"}.
        let record = document["data"]?.array?.first ?? document
        guard response.status == .ok, let token = record["access_token"]?.string, !token.isEmpty else {
            throw OAuthError.exchangeFailed(document["error_message"]?.string ?? "the code was refused")
        }
        return (Secret(token), record["user_id"]?.integerText ?? record["user_id"]?.string)
    }

    private func longLived(_ token: Secret<String>) async throws -> RefreshedToken {
        var query = URLComponents()
        query.queryItems = [
            URLQueryItem(name: "grant_type", value: "ig_exchange_token"), URLQueryItem(name: "client_secret", value: configuration.appSecret.value),
            URLQueryItem(name: "access_token", value: token.value),
        ]
        let payload = try await graph.call(.GET, path: "/access_token?" + (query.percentEncodedQuery ?? ""), body: nil, token: nil)
        guard let document = try? JSONValue.parse(payload), let fresh = document["access_token"]?.string,
            let expires = document["expires_in"]?.integerText.flatMap({ Int($0) })
        else { throw GraphError.malformedResponse }
        return RefreshedToken(token: Secret(fresh), expiresIn: expires)
    }

}

/// A refused OAuth step, with Meta's words when it gave any.
package enum OAuthError: Error, Equatable {
    case exchangeFailed(String)
}
