import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// An account's Ice Breakers, as `POST /{ig_id}/messenger_profile` takes them (reference §4).
struct IceBreakersProfile: Codable, Sendable, Equatable {
    struct Question: Codable, Sendable, Equatable {
        let question: String
        let payload: String
    }
    struct Block: Codable, Sendable, Equatable {
        let locale: String
        let call_to_actions: [Question]
    }
    let platform: String
    let ice_breakers: [Block]
}

/// Instagram Graph's account edges on graph.instagram.com: `/me`, Ice Breakers (`messenger_profile`), the webhook
/// subscription (`subscribed_apps`) and the long-lived token routes (`/access_token`, `/refresh_access_token`).
/// Wire formats as in shared/reference/instagram-platform.md; errors in Graph's envelope, type `IGApiException`.
struct GraphAccountRoutes: Sendable {
    let state: SandboxState

    /// What Flowtalk subscribes when an account connects (InstagramOAuth), for accounts subscribed from the start.
    static let connectFields = ["messages", "messaging_postbacks", "message_reactions", "messaging_referral"]
    /// The webhook fields `subscribed_apps` accepts for Instagram (reference §5.7).
    static let webhookFields: Set<String> = [
        "comments", "live_comments", "mentions", "message_edit", "message_reactions", "messages", "messaging_handover", "messaging_optins",
        "messaging_postbacks", "messaging_referral", "messaging_seen", "standby", "story_insights",
    ]

    struct Subscriptions: Encodable {
        struct App: Encodable { let subscribed_fields: [String] }
        let data: [App]
    }

    struct Profile: Encodable {
        let id: String
        let username: String
    }

    struct Me: Encodable {
        let id: String
        let user_id: NumericID
        let username: String
    }

    struct LongLivedToken: Encodable {
        let access_token: String
        var token_type = "bearer"
        var expires_in = 5_184_000
    }

    struct IceBreakersList: Encodable { let data: [IceBreakersProfile.Block] }

    func add(to router: Router<SandboxRequestContext>) {
        // Ice Breakers: POST sets the whole list, GET reads it, DELETE removes it.
        router.post("/:version/:igid/messenger_profile") { request, context -> Response in
            let account: SandboxAccount
            switch try await authorize(request, context, "post") {
            case .success(let found): account = found
            case .failure(let refusal): return refusal.response
            }
            var request = request
            let body = try await request.collectBody(upTo: 64 * 1024)
            guard let profile = SandboxJSON.decode(IceBreakersProfile.self, from: body), profile.platform == "instagram",
                profile.ice_breakers.contains(where: { $0.locale == "default" })
            else { return accountError(100, "Invalid ice_breakers: a default locale block is required") }
            guard profile.ice_breakers.allSatisfy({ $0.call_to_actions.count <= 4 }) else { return accountError(100, "At most 4 ice breakers per locale") }
            await state.setIceBreakers(profile, account: account.igID)
            return try SandboxJSON.response(GraphResult())
        }
        router.get("/:version/:igid/messenger_profile") { request, context -> Response in
            switch try await authorize(request, context, "get") {
            case .success(let account): return try SandboxJSON.response(IceBreakersList(data: await state.iceBreakers(account.igID)?.ice_breakers ?? []))
            case .failure(let refusal): return refusal.response
            }
        }
        router.delete("/:version/:igid/messenger_profile") { request, context -> Response in
            switch try await authorize(request, context, "delete") {
            case .success(let account):
                await state.setIceBreakers(nil, account: account.igID)
                return try SandboxJSON.response(GraphResult())
            case .failure(let refusal): return refusal.response
            }
        }
        // The account's webhook subscription: POST records the fields for that account, GET reads them back
        // (`{"data":[]}` when not subscribed), DELETE removes it.
        router.post("/:version/:igid/subscribed_apps") { request, context -> Response in
            let account: SandboxAccount
            switch try await authorize(request, context, "post") {
            case .success(let found): account = found
            case .failure(let refusal): return refusal.response
            }
            let fields = (request.uri.queryParameters["subscribed_fields"].map(String.init) ?? "").split(separator: ",").map(String.init)
            guard !fields.isEmpty else { return accountError(100, "(#100) The parameter subscribed_fields is required.") }
            guard fields.allSatisfy(Self.webhookFields.contains) else {
                return accountError(100, "(#100) Param subscribed_fields must be one of \(Self.webhookFields.sorted().joined(separator: ", "))")
            }
            await state.subscribe(fields, account: account.igID)
            return try SandboxJSON.response(GraphSuccess())
        }
        router.get("/:version/:igid/subscribed_apps") { request, context -> Response in
            switch try await authorize(request, context, "get") {
            case .success(let account):
                let fields = await state.subscribedFields(account.igID)
                return try SandboxJSON.response(Subscriptions(data: fields.map { [Subscriptions.App(subscribed_fields: $0)] } ?? []))
            case .failure(let refusal): return refusal.response
            }
        }
        router.delete("/:version/:igid/subscribed_apps") { request, context -> Response in
            switch try await authorize(request, context, "delete") {
            case .success(let account):
                await state.subscribe([], account: account.igID)
                return try SandboxJSON.response(GraphSuccess())
            case .failure(let refusal): return refusal.response
            }
        }
        router.get("/:version/me") { request, _ -> Response in
            guard let account = await state.account(forToken: request.bearerToken ?? "") else { return Refusal.invalidToken.response }
            return try SandboxJSON.response(Me(id: account.appScopedID, user_id: NumericID(text: account.igID), username: account.username))
        }
        // The User Profile API (`GET /{igsid}?fields=username`): a customer who wrote to the token's account.
        router.get("/:version/:igid") { request, context -> Response in
            guard let account = await state.account(forToken: request.bearerToken ?? "") else { return Refusal.invalidToken.response }
            let customer = try context.parameters.require("igid")
            guard let name = await state.username(customer: customer, account: account.igID) else {
                return Refusal.unknownObject(method: "get", id: customer).response
            }
            return try SandboxJSON.response(Profile(id: customer, username: name))
        }
        // Long-lived tokens, with the token in the query as Meta documents these two routes.
        router.get("/refresh_access_token") { request, _ -> Response in try await longLivedToken(request, grantType: "ig_refresh_token") }
        router.get("/access_token") { request, _ -> Response in try await longLivedToken(request, grantType: "ig_exchange_token") }
    }

    /// A new 60-day token for a valid one given in the query (`grant_type` as Meta names it for that route).
    func longLivedToken(_ request: Request, grantType: String) async throws -> Response {
        let query = request.uri.queryParameters
        guard query["grant_type"].map(String.init) == grantType, let token = query["access_token"].map(String.init),
            let account = await state.account(forToken: token)
        else { return accountError(190, "Invalid OAuth access token") }
        return try SandboxJSON.response(LongLivedToken(access_token: await state.issueToken(for: account.igID)))
    }

    /// Why an account edge refused a call.
    enum Refusal: Error {
        /// The id in the path is no account the sandbox knows.
        case unknownObject(method: String, id: String)
        /// No bearer token, or one that is not this account's.
        case invalidToken

        var response: Response {
            switch self {
            case .unknownObject(let method, let id):
                GraphErrorBody.response(
                    400, code: 100, subcode: 33,
                    "Unsupported \(method) request. Object with ID '\(id)' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
                    type: "IGApiException")
            case .invalidToken: GraphErrorBody.response(400, code: 190, "Invalid OAuth 2.0 Access Token", type: "IGApiException")
            }
        }
    }

    /// The account named in the path, if the sandbox knows it and the bearer token is its token.
    private func authorize(_ request: Request, _ context: SandboxRequestContext, _ method: String) async throws -> Result<SandboxAccount, Refusal> {
        let igID = try context.parameters.require("igid")
        guard await state.account(igID) != nil else { return .failure(.unknownObject(method: method, id: igID)) }
        guard let account = await state.account(forToken: request.bearerToken ?? ""), account.igID == igID else { return .failure(.invalidToken) }
        return .success(account)
    }

    private func accountError(_ code: Int, _ message: String) -> Response { GraphErrorBody.response(400, code: code, message, type: "IGApiException") }
}
