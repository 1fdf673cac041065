import FlowtalkCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The sandbox's account-level Graph API, OAuth and Groq stand-ins (wire formats as in shared/reference/instagram-platform.md).
struct GraphAccountRoutes: Sendable {
    let state: SandboxState
    var oauthAccount: String? = nil

    /// A new 60-day token for a valid one given in the query (`grant_type` as Meta names it for that route).
    func longLivedToken(_ request: Request, grantType: String) async -> Response {
        let query = request.uri.queryParameters
        guard query["grant_type"].map(String.init) == grantType, let token = query["access_token"].map(String.init),
            let account = await state.account(forToken: token)
        else { return graphError(400, code: 190, "Invalid OAuth access token") }
        let issued = await state.issueToken(for: account.igID)
        return json(#"{"access_token":"\#(issued)","token_type":"bearer","expires_in":5184000}"#)
    }

    func add(to router: Router<SandboxRequestContext>) {
        // Ice Breakers: POST sets the whole list, GET reads it, DELETE removes it.
        router.post("/:version/:igid/messenger_profile") { request, context -> Response in
            guard let account = try await authorized(request, context) else { return invalidToken() }
            var request = request
            let body = String(buffer: try await request.collectBody(upTo: 64 * 1024))
            guard let document = try? JSONValue.parse(Array(body.utf8)), document["platform"]?.string == "instagram",
                let blocks = document["ice_breakers"]?.array, blocks.contains(where: { $0["locale"]?.string == "default" })
            else { return graphError(400, code: 100, "Invalid ice_breakers: a default locale block is required") }
            for block in blocks where (block["call_to_actions"]?.array?.count ?? 0) > 4 {
                return graphError(400, code: 100, "At most 4 ice breakers per locale")
            }
            await state.setIceBreakers(body, account: account.igID)
            return json(#"{"result":"success"}"#)
        }
        router.get("/:version/:igid/messenger_profile") { request, context -> Response in
            guard let account = try await authorized(request, context) else { return invalidToken() }
            guard let stored = await state.iceBreakersJSON(account.igID), let document = try? JSONValue.parse(Array(stored.utf8)),
                let blocks = document["ice_breakers"]
            else { return json(#"{"data":[]}"#) }
            return json(#"{"data":\#(serialize(blocks))}"#)
        }
        router.delete("/:version/:igid/messenger_profile") { request, context -> Response in
            guard let account = try await authorized(request, context) else { return invalidToken() }
            await state.setIceBreakers(nil, account: account.igID)
            return json(#"{"result":"success"}"#)
        }
        // Webhook subscription of the account.
        router.post("/:version/:igid/subscribed_apps") { request, context -> Response in
            guard let account = try await authorized(request, context) else { return invalidToken() }
            let fields = request.uri.queryParameters["subscribed_fields"].map { $0.split(separator: ",").map(String.init) } ?? ["messages"]
            await state.subscribe(fields, account: account.igID)
            return json(#"{"success":true}"#)
        }
        router.get("/:version/:igid/subscribed_apps") { request, context -> Response in
            guard let account = try await authorized(request, context) else { return invalidToken() }
            let fields = await state.subscribedFields(account.igID).map { "\"\($0)\"" }.joined(separator: ",")
            return json(#"{"data":[{"subscribed_fields":[\#(fields)]}]}"#)
        }
        router.delete("/:version/:igid/subscribed_apps") { request, context -> Response in
            guard let account = try await authorized(request, context) else { return invalidToken() }
            await state.subscribe([], account: account.igID)
            return json(#"{"success":true}"#)
        }
        router.get("/:version/me") { request, _ -> Response in
            guard let account = await account(bearer: request) else { return invalidToken() }
            return json(#"{"id":"app-scoped-\#(account.igID)","user_id":\#(account.igID),"username":"\#(account.username)"}"#)
        }
        // Long-lived token refresh (token in the query, as Meta documents it).
        router.get("/refresh_access_token") { request, _ -> Response in await longLivedToken(request, grantType: "ig_refresh_token") }
        // OAuth: the authorize page approves at once for the first sandbox account.
        router.get("/oauth/authorize") { request, _ -> Response in
            let query = request.uri.queryParameters
            guard let redirect = query["redirect_uri"].map(String.init), var components = URLComponents(string: redirect) else {
                return graphError(400, code: 100, "redirect_uri is required")
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
        router.post("/oauth/access_token") { request, _ -> Response in
            var request = request
            let form = String(buffer: try await request.collectBody(upTo: 16 * 1024))
            let fields = Dictionary(
                form.split(separator: "&").compactMap { pair -> (String, String)? in
                    let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
                    return parts.count == 2 ? (parts[0], parts[1]) : nil
                }, uniquingKeysWith: { a, _ in a })
            guard fields["grant_type"] == "authorization_code", let code = fields["code"], let igID = await state.redeem(code: code) else {
                return json(#"{"error_type":"OAuthException","code":400,"error_message":"Matching code was not found or was already used"}"#, status: 400)
            }
            let token = await state.issueToken(for: igID)
            return json(#"{"access_token":"\#(token)","user_id":\#(igID),"permissions":["instagram_business_basic","instagram_business_manage_messages"]}"#)
        }
        // Short-lived token → long-lived one (the OAuth connect).
        router.get("/access_token") { request, _ -> Response in await longLivedToken(request, grantType: "ig_exchange_token") }
        // Groq's OpenAI-compatible chat completions: a structured JSON answer ({"can_help", "reply"}) unless a fault says
        // otherwise. Every request body is kept for inspection (GET /simulate/groq/requests).
        router.post("/openai/v1/chat/completions") { request, _ -> Response in
            guard request.headers[.authorization]?.hasPrefix("Bearer ") == true else {
                return json(#"{"error":{"message":"Invalid API Key","type":"invalid_request_error","code":"invalid_api_key"}}"#, status: 401)
            }
            var request = request
            let body = String(buffer: try await request.collectBody(upTo: 256 * 1024))
            await state.recordGroq(body)
            guard let document = try? JSONValue.parse(Array(body.utf8)), document["model"]?.string?.isEmpty == false,
                let messages = document["messages"]?.array, !messages.isEmpty
            else {
                return json(#"{"error":{"message":"'model' and 'messages' are required","type":"invalid_request_error"}}"#, status: 400)
            }
            let fault = await state.nextGroqFault()
            var content = #"{"can_help":true,"reply":"Thanks for asking! (sandbox AI answer)"}"#
            switch fault?.kind {
            case .rateLimit?:
                return Response(
                    status: .tooManyRequests, headers: [.contentType: "application/json", .retryAfter: "\(fault?.seconds ?? 1)"],
                    body: .init(byteBuffer: ByteBuffer(string: #"{"error":{"message":"Rate limit reached for model. Please try again later.","type":"tokens","code":"rate_limit_exceeded"}}"#)))
            case .serverError?:
                return json(#"{"error":{"message":"Service Unavailable","type":"internal_server_error"}}"#, status: 503)
            case .slow?:
                try await Task.sleep(for: .seconds(fault?.seconds ?? 30))
            case .cannotHelp?:
                content = #"{"can_help":false,"reply":""}"#
            case .malformed?:
                content = "Sure! We can help you with that."
            case .long?:
                var reply: [UInt8] = []
                JSONText.appendString(
                    (1...60).map { "Sentence \($0) of a long sandbox answer." }.joined(separator: " "), to: &reply)
                content = #"{"can_help":true,"reply":"# + String(decoding: reply, as: UTF8.self) + "}"
            case nil:
                break
            }
            var quoted: [UInt8] = []
            JSONText.appendString(content, to: &quoted)
            let words = messages.compactMap { $0["content"]?.string }.reduce(0) { $0 + $1.split(separator: " ").count }
            let answer = #"{"id":"chatcmpl-sandbox","object":"chat.completion","model":"sandbox","choices":[{"index":0,"message":{"role":"assistant","content":\#(String(decoding: quoted, as: UTF8.self))},"finish_reason":"stop"}],"usage":{"prompt_tokens":\#(words),"completion_tokens":\#(content.split(separator: " ").count),"total_tokens":\#(words + content.split(separator: " ").count)}}"#
            return json(answer)
        }
        // Faults for the next chat completions: cannot_help, rate_limit (429 with retry-after `seconds`, default 1),
        // server_error (503), slow (`seconds` before answering), malformed (prose instead of JSON), long (~3,000 bytes).
        router.post("/sandbox/groq/faults") { request, context -> Response in
            struct Body: Decodable { let faults: [GroqFault] }
            let body = try await request.decode(as: Body.self, context: context)
            await state.addGroqFaults(body.faults)
            return Response(status: .noContent)
        }
        router.get("/simulate/groq/requests") { _, _ -> Response in
            var out: [UInt8] = Array(#"{"requests":["#.utf8)
            for (index, body) in await state.groqLog.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONText.appendString(body, to: &out)
            }
            out += Array("]}".utf8)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: out)))
        }
        router.get("/simulate/ice-breakers/:igid") { _, context -> Response in
            let igID = try context.parameters.require("igid")
            return json(await state.iceBreakersJSON(igID) ?? "{}")
        }
    }

    private func account(bearer request: Request) async -> SandboxAccount? {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return nil }
        return await state.account(forToken: String(header.dropFirst(7)))
    }

    /// The account named in the path, if the bearer token is its token.
    private func authorized(_ request: Request, _ context: SandboxRequestContext) async throws -> SandboxAccount? {
        let igID = try context.parameters.require("igid")
        guard let account = await account(bearer: request), account.igID == igID else { return nil }
        return account
    }

    private func json(_ body: String, status: Int = 200) -> Response {
        Response(status: HTTPResponse.Status(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    private func invalidToken() -> Response { graphError(400, code: 190, "Invalid OAuth 2.0 Access Token") }

    private func graphError(_ status: Int, code: Int, _ message: String) -> Response {
        json(#"{"error":{"message":"\#(message)","type":"IGApiException","code":\#(code),"fbtrace_id":"SandboxTrace"}}"#, status: status)
    }

    private func serialize(_ value: JSONValue) -> String {
        var out: [UInt8] = []
        func write(_ value: JSONValue) {
            switch value {
            case .object(let members):
                out.append(UInt8(ascii: "{"))
                for (index, member) in members.enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    JSONText.appendString(member.key, to: &out)
                    out.append(UInt8(ascii: ":"))
                    write(member.value)
                }
                out.append(UInt8(ascii: "}"))
            case .array(let values):
                out.append(UInt8(ascii: "["))
                for (index, element) in values.enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    write(element)
                }
                out.append(UInt8(ascii: "]"))
            case .string(let text): JSONText.appendString(text, to: &out)
            case .number(let text): out += Array(text.utf8)
            case .bool(let flag): out += Array((flag ? "true" : "false").utf8)
            case .null: out += Array("null".utf8)
            }
        }
        write(value)
        return String(decoding: out, as: UTF8.self)
    }
}
