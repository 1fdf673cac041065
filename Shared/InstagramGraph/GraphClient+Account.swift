import AsyncHTTPClient
import FlowtalkCore
import Foundation
import NIOCore
import NIOHTTP1

/// A refreshed long-lived token.
package struct RefreshedToken: Sendable {
    package let token: Secret<String>
    package let expiresIn: Int
}

extension GraphClient {
    /// Replaces the account's Ice Breakers (`POST /{ig_id}/messenger_profile`, one `default` locale block), or removes
    /// them when `questions` is empty (`DELETE` with `fields: ["ice_breakers"]`).
    package func setIceBreakers(instagramUserID: String, questions: [(question: String, payload: String)], token: Secret<String>) async throws {
        var body: [UInt8]
        let method: HTTPMethod
        if questions.isEmpty {
            method = .DELETE
            body = Array(#"{"fields":["ice_breakers"],"platform":"instagram"}"#.utf8)
        } else {
            method = .POST
            body = Array(#"{"platform":"instagram","ice_breakers":[{"locale":"default","call_to_actions":["#.utf8)
            for (index, item) in questions.enumerated() {
                if index > 0 { body.append(UInt8(ascii: ",")) }
                body += Array(#"{"question":"#.utf8)
                JSONText.appendString(item.question, to: &body)
                body += Array(#","payload":"#.utf8)
                JSONText.appendString(item.payload, to: &body)
                body.append(UInt8(ascii: "}"))
            }
            body += Array("]}]}".utf8)
        }
        _ = try await call(method, path: "/\(configuration.version)/\(instagramUserID)/messenger_profile", body: body, token: token)
    }

    /// The token's account (`GET /me?fields=id,user_id,username`): `user_id` is the IG user id webhooks carry and
    /// accounts are keyed by (reference §0.2); `id` is the app-scoped id, kept only to match Meta's callbacks.
    package func identity(_ token: Secret<String>) async throws -> (userID: String, appScopedID: String?, username: String?) {
        let payload = try await call(.GET, path: "/\(configuration.version)/me?fields=id,user_id,username", body: nil, token: token)
        guard let document = try? JSONValue.parse(payload), let userID = document["user_id"]?.integerText ?? document["user_id"]?.string else {
            throw GraphError.malformedResponse
        }
        return (userID, document["id"]?.integerText ?? document["id"]?.string, document["username"]?.string)
    }

    /// The webhook fields the app is subscribed to for the account (`GET /{ig_id}/subscribed_apps`).
    package func subscribedFields(instagramUserID: String, token: Secret<String>) async throws -> [String] {
        let body = try await call(.GET, path: "/\(configuration.version)/\(instagramUserID)/subscribed_apps", body: nil, token: token)
        guard let document = try? JSONValue.parse(body), let data = document["data"]?.array else { throw GraphError.malformedResponse }
        return data.flatMap { app in app["subscribed_fields"]?.array?.compactMap(\.string) ?? [] }
    }

    /// Renews a long-lived token (`GET /refresh_access_token?grant_type=ig_refresh_token`). Meta documents the token
    /// as a query parameter here; the URL is never logged.
    package func refreshToken(_ token: Secret<String>) async throws -> RefreshedToken {
        var components = URLComponents()
        components.queryItems = [URLQueryItem(name: "grant_type", value: "ig_refresh_token"), URLQueryItem(name: "access_token", value: token.value)]
        let payload = try await call(.GET, path: "/refresh_access_token?" + (components.percentEncodedQuery ?? ""), body: nil, token: nil)
        guard let document = try? JSONValue.parse(payload), let fresh = document["access_token"]?.string, !fresh.isEmpty,
            let expires = document["expires_in"]?.integerText.flatMap({ Int($0) })
        else { throw GraphError.malformedResponse }
        return RefreshedToken(token: Secret(fresh), expiresIn: expires)
    }

    /// The customer's Instagram username for `{username}` in a reply (`GET /{igsid}?fields=username`, the User Profile
    /// API: it works once the customer has written to the business, and fails when they blocked it). Nil on any failure or
    /// an answer that is not a username; at most `timeout` (a reply is never held up long for a name). Never stored.
    package func customerUsername(_ igsid: String, token: Secret<String>, timeout: TimeAmount = .seconds(3)) async -> String? {
        guard let id = igsid.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))), !id.isEmpty
        else { return nil }
        let path = "/\(configuration.version)/\(id)?fields=username"
        let limit = min(timeout, configuration.timeout)
        // The whole exchange, body included, races the limit (the client's own deadline ends at the response head).
        let payload: [UInt8]? = await withTaskGroup(of: [UInt8]?.self) { group in
            group.addTask { try? await self.call(.GET, path: path, body: nil, token: token, timeout: limit) }
            group.addTask {
                try? await Task.sleep(nanoseconds: UInt64(max(0, limit.nanoseconds)))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        guard let payload, let document = try? JSONValue.parse(payload), let name = document["username"]?.string else { return nil }
        // Instagram usernames: letters, digits, "." and "_", at most 30.
        let allowed = name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) && $0.isASCII || $0 == "." || $0 == "_" }
        return allowed && (1...30).contains(name.count) ? name : nil
    }

    /// One Graph API call; returns the body of a 2xx answer, throws a classified `GraphError` otherwise.
    func call(_ method: HTTPMethod, path: String, body: [UInt8]?, token: Secret<String>?, timeout: TimeAmount? = nil) async throws -> [UInt8] {
        var request = HTTPClientRequest(url: configuration.baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token.value)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: timeout ?? configuration.timeout)
        } catch {
            throw Self.classifyTransport(error)
        }
        let payload: [UInt8]
        do {
            payload = Array(buffer: try await response.body.collect(upTo: 256 * 1024))
        } catch {
            // The request was answered but the answer was lost: whatever it did is done.
            throw GraphError.ambiguous("body not read")
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            throw GraphError.classify(status: Int(response.status.code), body: payload, retryAfter: response.headers.first(name: "Retry-After"))
        }
        return payload
    }
}
