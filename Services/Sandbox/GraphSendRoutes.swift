import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Instagram's send API, `POST /{version}/{ig_id}/messages` (reference §3): records the message, answers its
/// `message_id`, and has Instagram's echo posted to ingest. Faults queued with `POST /sandbox/faults` apply here.
struct GraphSendRoutes: Sendable {
    let state: SandboxState
    let webhooks: WebhookSender
    /// Whether each sent message is echoed back (`SANDBOX_ECHOES`).
    let echoes: Bool

    struct SendRequest: Decodable {
        struct Recipient: Decodable { let id: String }
        struct Option: Decodable {
            let content_type: String?
            let type: String?
            let title: String
            let payload: String
        }
        struct Attachment: Decodable {
            struct Payload: Decodable {
                let template_type: String
                let text: String
                let buttons: [Option]
            }
            let type: String
            let payload: Payload
        }
        struct Message: Decodable {
            let text: String?
            let quick_replies: [Option]?
            let attachment: Attachment?
        }
        let recipient: Recipient
        let message: Message
    }

    struct SendAnswer: Encodable {
        let recipient_id: String
        let message_id: String
    }

    /// Thrown from a response body to break the connection mid-answer (the `drop` fault).
    struct DroppedConnection: Error {}

    func add(to router: Router<SandboxRequestContext>) {
        router.post("/:version/:igid/messages") { request, context -> Response in try await send(request, context) }
    }

    func send(_ request: Request, _ context: SandboxRequestContext) async throws -> Response {
        let igID = try context.parameters.require("igid")
        guard await state.account(igID) != nil else {
            return GraphErrorBody.response(400, code: 100, subcode: 33, "Unsupported post request. Object does not exist")
        }
        guard let holder = await state.account(forToken: request.bearerToken ?? ""), holder.igID == igID else {
            return GraphErrorBody.response(400, code: 190, "Invalid OAuth 2.0 Access Token")
        }
        let body = try await request.decode(as: SendRequest.self, context: context)
        guard let (text, options) = Self.validated(body.message) else {
            return GraphErrorBody.response(400, code: 100, subcode: 2_534_015, "Invalid message data")
        }
        if let fault = await state.nextFault(igID) {
            switch fault.kind {
            case .tokenExpired: return GraphErrorBody.response(400, code: 190, subcode: 463, "Error validating access token: Session has expired")
            case .outsideWindow: return GraphErrorBody.response(400, code: 10, subcode: 2_534_022, "This message is sent outside of allowed window.")
            case .userUnavailable: return GraphErrorBody.response(400, code: 551, subcode: 1_545_041, "This person isn't available right now.")
            case .rateLimit: return GraphErrorBody.response(400, code: 4, "Application request limit reached", transient: true)
            case .serverError:
                return GraphErrorBody.response(500, code: 2, "An unexpected error has occurred. Please retry your request later.", transient: true)
            case .slow: try await Task.sleep(for: .seconds(fault.seconds ?? 30))
            case .pass: break
            case .drop:
                // Delivered, so Instagram echoes it, even though the sender never learns the answer.
                _ = try await deliver(text, options, to: body.recipient.id, from: igID)
                return Response(
                    status: .ok, headers: [.contentType: "application/json", .contentLength: "64"], body: ResponseBody { _ in throw DroppedConnection() })
            }
        }
        let mid = try await deliver(text, options, to: body.recipient.id, from: igID)
        return try SandboxJSON.response(SendAnswer(recipient_id: body.recipient.id, message_id: mid))
    }

    /// The message's text and options when Instagram would take it: text of 1,000 bytes at most, with up to 13 quick
    /// replies (`content_type: "text"`, titles of 20 characters at most, payloads of 1,000); or a button template of at
    /// most 640 characters with 1–3 postback buttons. Nil otherwise.
    static func validated(_ message: SendRequest.Message) -> (String, SandboxOptions?)? {
        func valid(_ options: [SendRequest.Option], kind: String, limit: Int) -> SandboxOptions? {
            guard (1...limit).contains(options.count), options.allSatisfy({
                ($0.content_type ?? $0.type) == kind && (1...20).contains($0.title.count) && (1...1000).contains($0.payload.utf8.count)
            }) else { return nil }
            return SandboxOptions(kind: kind == "text" ? "quick_replies" : "buttons", options: options.map { .init(title: $0.title, payload: $0.payload) })
        }
        if let attachment = message.attachment {
            guard message.text == nil, message.quick_replies == nil, attachment.type == "template", attachment.payload.template_type == "button",
                !attachment.payload.text.isEmpty, attachment.payload.text.count <= 640,
                let buttons = valid(attachment.payload.buttons, kind: "postback", limit: 3)
            else { return nil }
            return (attachment.payload.text, buttons)
        }
        guard let text = message.text, !text.isEmpty, text.utf8.count <= 1000 else { return nil }
        guard let quick = message.quick_replies else { return (text, nil) }
        guard let options = valid(quick, kind: "text", limit: 13) else { return nil }
        return (text, options)
    }

    /// Records the message as sent and queues its echo; returns its message id.
    private func deliver(_ text: String, _ options: SandboxOptions? = nil, to recipient: String, from igID: String) async throws -> String {
        let mid = await state.newMID()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var message = SandboxMessage(direction: "out", customerID: recipient, text: text, mid: mid, atMs: now)
        message.quickReplies = options?.kind == "quick_replies" ? options?.options : nil
        message.buttons = options?.kind == "buttons" ? options?.options : nil
        await state.record(message, account: igID)
        if echoes {
            try webhooks.send(
                InstagramWebhook(
                    account: igID, sender: igID, recipient: recipient, timestampMs: now,
                    message: .init(mid: mid, text: text, is_echo: true)))
        }
        return mid
    }
}
