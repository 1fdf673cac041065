import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Instagram Login (reference §5): the authorize page on www.instagram.com, which approves at once, and the code
/// exchange on api.instagram.com. The long-lived token that follows is Graph's (`GraphAccountRoutes`).
struct InstagramOAuthRoutes: Sendable {
    let state: SandboxState
    /// The account the authorize page approves (`SANDBOX_OAUTH_ACCOUNT`); nil: the first.
    let oauthAccount: String?

    /// The short-lived token of a redeemed code. `user_id` is a JSON number, as Meta sends it.
    struct CodeExchange: Encodable {
        let access_token: String
        let user_id: NumericID
        var permissions = ["instagram_business_basic", "instagram_business_manage_messages"]
    }

    /// Meta's flat OAuth error: `{"error_type","code","error_message"}`.
    struct OAuthError: Encodable {
        var error_type = "OAuthException"
        var code = 400
        let error_message: String
    }

    func add(to router: Router<SandboxRequestContext>) {
        router.get("/oauth/authorize") { request, _ -> Response in try await authorize(request) }
        router.post("/oauth/access_token") { request, _ -> Response in
            var request = request
            let fields = formFields(String(buffer: try await request.collectBody(upTo: 16 * 1024)))
            guard fields["grant_type"] == "authorization_code", let code = fields["code"], let igID = await state.redeem(code: code) else {
                return try SandboxJSON.response(OAuthError(error_message: "Matching code was not found or was already used"), status: .badRequest)
            }
            let appScopedID = await state.account(igID)?.appScopedID ?? igID
            return try SandboxJSON.response(CodeExchange(access_token: await state.issueToken(for: igID), user_id: NumericID(text: appScopedID)))
        }
    }

    /// 302 back to `redirect_uri` with a single-use `code` (or `error=access_denied` without `response_type=code`), and the `state`.
    func authorize(_ request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        guard let redirect = query["redirect_uri"].map(String.init), var components = URLComponents(string: redirect) else {
            return GraphErrorBody.response(400, code: 100, "redirect_uri is required", type: "IGApiException")
        }
        var items = components.queryItems ?? []
        if let account = await state.oauthAccount(preferred: oauthAccount), query["response_type"] == "code" {
            items.append(URLQueryItem(name: "code", value: await state.issueCode(for: account.igID)))
        } else {
            items.append(URLQueryItem(name: "error", value: "access_denied"))
            items.append(URLQueryItem(name: "error_reason", value: "user_denied"))
        }
        if let stateValue = query["state"] { items.append(URLQueryItem(name: "state", value: String(stateValue))) }
        components.queryItems = items
        return Response(status: .found, headers: [.location: components.string ?? redirect])
    }
}
