import AsyncHTTPClient
import FlowtalkCore
import FlowtalkHTTP
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

struct SandboxRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
}

/// flowtalk-sandbox: a stand-in for Instagram's Graph API and a customer simulator, over real HTTP.
func buildApplication(configuration: SandboxConfiguration, logger: Logger? = nil) async throws -> some ApplicationProtocol {
    var logger = logger ?? Logger(label: "flowtalk-sandbox")
    logger.logLevel = Logger.Level(rawValue: configuration.logLevel) ?? .info
    let state = SandboxState(accounts: configuration.accounts)
    let router = Router(context: SandboxRequestContext.self)
    router.addMiddleware { ErrorMiddleware() }
    router.get("/healthz") { _, _ in HealthRoutes<SandboxRequestContext>.json(.ok, #"{"status":"ok"}"#) }
    router.get("/readyz") { _, _ in HealthRoutes<SandboxRequestContext>.json(.ok, #"{"status":"ready"}"#) }
    SandboxController(state: state, configuration: configuration).add(to: router)
    return Application(
        router: router, configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil), logger: logger)
}

/// Thrown from a response body to break the connection mid-answer.
struct DroppedConnection: Error {}

struct SandboxController: Sendable {
    let state: SandboxState
    let configuration: SandboxConfiguration

    func add(to router: Router<SandboxRequestContext>) {
        router.post("/sandbox/accounts") { request, context -> Response in
            let account = try await request.decode(as: SandboxAccount.self, context: context)
            await state.register(account)
            return Response(status: .created)
        }
        router.post("/sandbox/faults") { request, context -> Response in
            struct Body: Decodable {
                let ig_id: String
                let faults: [Fault]
            }
            let body = try await request.decode(as: Body.self, context: context)
            await state.addFaults(body.faults, account: body.ig_id)
            return Response(status: .noContent)
        }
        // Fault-injection runs: how many faults were applied, by kind; DELETE also drops those not applied yet.
        router.get("/sandbox/faults") { _, _ -> Response in try await faultReport(cleared: nil) }
        router.delete("/sandbox/faults") { _, _ -> Response in try await faultReport(cleared: await state.clearFaults()) }
        router.post("/:version/:igid/messages") { request, context -> Response in try await send(request, context) }
        GraphAccountRoutes(state: state, oauthAccount: configuration.oauthAccount).add(to: router)
        router.post("/simulate/dm") { request, context -> Response in try await simulate(request, context) }
        router.post("/simulate/postback") { request, context -> Response in try await simulatePostback(request, context) }
        router.get("/simulate/conversations/:igid") { _, context -> Response in
            let igID = try context.parameters.require("igid")
            let data = try JSONEncoder().encode(["messages": await state.messages(igID)])
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
    }

    /// `{"applied":{"graph.server_error":3,…},"cleared":n}`.
    func faultReport(cleared: Int?) async throws -> Response {
        struct Report: Encodable {
            let applied: [String: Int]
            let cleared: Int?
        }
        let data = try JSONEncoder().encode(Report(applied: await state.appliedFaults, cleared: cleared))
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// Graph API `POST /{version}/{ig_id}/messages`.
    func send(_ request: Request, _ context: SandboxRequestContext) async throws -> Response {
        let igID = try context.parameters.require("igid")
        guard await state.account(igID) != nil else { return graphError(400, code: 100, subcode: 33, "Unsupported post request. Object does not exist") }
        let bearer = request.headers[.authorization].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil } ?? ""
        guard let holder = await state.account(forToken: bearer), holder.igID == igID else {
            return graphError(400, code: 190, subcode: nil, "Invalid OAuth 2.0 Access Token")
        }
        struct Body: Decodable {
            struct Recipient: Decodable { let id: String }
            struct Message: Decodable { let text: String? }
            let recipient: Recipient
            let message: Message
        }
        let body = try await request.decode(as: Body.self, context: context)
        guard let text = body.message.text, !text.isEmpty, text.utf8.count <= 1000 else {
            return graphError(400, code: 100, subcode: 2_534_015, "Invalid message data")
        }
        if let fault = await state.nextFault(igID) {
            switch fault.kind {
            case .tokenExpired: return graphError(400, code: 190, subcode: 463, "Error validating access token: Session has expired")
            case .outsideWindow: return graphError(400, code: 10, subcode: 2_534_022, "This message is sent outside of allowed window.")
            case .userUnavailable: return graphError(400, code: 551, subcode: 1_545_041, "This person isn't available right now.")
            case .rateLimit: return graphError(400, code: 4, subcode: nil, "Application request limit reached", transient: true)
            case .serverError: return graphError(500, code: 2, subcode: nil, "An unexpected error has occurred. Please retry your request later.", transient: true)
            case .slow: try await Task.sleep(for: .seconds(fault.seconds ?? 30))
            case .drop:
                let mid = await state.newMID()
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                await state.record(SandboxMessage(direction: "out", customerID: body.recipient.id, text: text, mid: mid, atMs: now), account: igID)
                // Delivered, so Instagram echoes it, even though the sender never learns the answer.
                sendEcho(igID: igID, recipient: body.recipient.id, mid: mid, text: text, atMs: now)
                return Response(status: .ok, headers: [.contentType: "application/json", .contentLength: "64"], body: ResponseBody { _ in throw DroppedConnection() })
            }
        }
        let mid = await state.newMID()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        await state.record(SandboxMessage(direction: "out", customerID: body.recipient.id, text: text, mid: mid, atMs: now), account: igID)
        sendEcho(igID: igID, recipient: body.recipient.id, mid: mid, text: text, atMs: now)
        let answer = #"{"recipient_id":"\#(body.recipient.id)","message_id":"\#(mid)"}"#
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer)))
    }

    /// `POST /simulate/postback {ig_id, from, title, payload}`: a customer taps an Ice Breaker.
    func simulatePostback(_ request: Request, _ context: SandboxRequestContext) async throws -> Response {
        struct Body: Decodable {
            let ig_id: String
            let from: String
            let title: String
            let payload: String
        }
        let body = try await request.decode(as: Body.self, context: context)
        let mid = await state.newMID()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let out = webhookBody(
            account: body.ig_id, sender: body.from, recipient: body.ig_id, timestampMs: now, event: "postback",
            fields: [("mid", mid), ("title", body.title), ("payload", body.payload)])
        return try await deliver(out, SandboxMessage(direction: "in", customerID: body.from, text: body.title, mid: mid, atMs: now), account: body.ig_id)
    }

    /// Instagram echoes every message the business sends back through the webhook (unless `SANDBOX_ECHOES=false`).
    func sendEcho(igID: String, recipient: String, mid: String, text: String, atMs: Int64) {
        guard configuration.echoes else { return }
        let echo = webhookBody(account: igID, sender: igID, recipient: recipient, mid: mid, text: text, timestampMs: atMs, isEcho: true)
        Task { _ = try? await post(echo) }
    }

    /// `POST /simulate/dm {ig_id, from, text, timestamp_ms?, mid?, is_echo?}`: a customer (or, with `is_echo`, a person
    /// in the Instagram app) writes; the signed webhook goes to ingest.
    func simulate(_ request: Request, _ context: SandboxRequestContext) async throws -> Response {
        struct Body: Decodable {
            let ig_id: String
            let from: String
            let text: String
            let timestamp_ms: Int64?
            let mid: String?
            let is_echo: Bool?
        }
        let body = try await request.decode(as: Body.self, context: context)
        var mid = body.mid ?? ""
        if mid.isEmpty { mid = await state.newMID() }
        let timestamp = body.timestamp_ms ?? Int64(Date().timeIntervalSince1970 * 1000)
        let isEcho = body.is_echo ?? false
        let webhook = webhookBody(
            account: body.ig_id, sender: isEcho ? body.ig_id : body.from, recipient: isEcho ? body.from : body.ig_id, mid: mid, text: body.text,
            timestampMs: timestamp, isEcho: isEcho)
        let message = SandboxMessage(direction: isEcho ? "out" : "in", customerID: body.from, text: body.text, mid: mid, atMs: timestamp)
        return try await deliver(webhook, message, account: body.ig_id)
    }

    /// Records a simulated message, posts its signed webhook to ingest, and answers `{"mid","ingest_status"}`.
    func deliver(_ webhook: [UInt8], _ message: SandboxMessage, account igID: String) async throws -> Response {
        await state.record(message, account: igID)
        let status = try await post(webhook)
        let answer = #"{"mid":"\#(message.mid)","ingest_status":\#(status)}"#
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: answer)))
    }

    func webhookBody(account: String, sender: String, recipient: String, mid: String, text: String, timestampMs: Int64, isEcho: Bool) -> [UInt8] {
        webhookBody(
            account: account, sender: sender, recipient: recipient, timestampMs: timestampMs, event: "message", fields: [("mid", mid), ("text", text)],
            echo: isEcho)
    }

    /// A real-shaped delivery with one messaging item whose event (`message`, `postback`) has the given string fields.
    func webhookBody(
        account: String, sender: String, recipient: String, timestampMs: Int64, event: String, fields: [(String, String)], echo: Bool = false
    ) -> [UInt8] {
        var out = Array(#"{"object":"instagram","entry":[{"time":\#(timestampMs),"id":"#.utf8)
        JSONText.appendString(account, to: &out)
        out += Array(#","messaging":[{"sender":{"id":"#.utf8)
        JSONText.appendString(sender, to: &out)
        out += Array(#"},"recipient":{"id":"#.utf8)
        JSONText.appendString(recipient, to: &out)
        out += Array(#"},"timestamp":\#(timestampMs),"\#(event)":{"#.utf8)
        for (index, (key, value)) in fields.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONText.appendString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            JSONText.appendString(value, to: &out)
        }
        if echo { out += Array(#","is_echo":true"#.utf8) }
        out += Array("}}]}]}".utf8)
        return out
    }

    /// Posts a signed webhook to ingest; returns ingest's HTTP status.
    func post(_ body: [UInt8]) async throws -> Int {
        var request = HTTPClientRequest(url: "\(configuration.ingestURL)/webhooks/instagram")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Hub-Signature-256", value: WebhookSignatureVerifier.sign(body: body, secret: configuration.appSecret.value))
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 16)
        return Int(response.status.code)
    }

    func graphError(_ status: Int, code: Int, subcode: Int?, _ message: String, transient: Bool = false) -> Response {
        let sub = subcode.map { #","error_subcode":\#($0)"# } ?? ""
        let flag = transient ? #","is_transient":true"# : ""
        let body = #"{"error":{"message":"\#(message)","type":"OAuthException","code":\#(code)\#(sub)\#(flag),"fbtrace_id":"SandboxTrace"}}"#
        return Response(
            status: HTTPResponse.Status(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
