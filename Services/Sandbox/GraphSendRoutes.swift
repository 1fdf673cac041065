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
        struct Message: Decodable { let text: String? }
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
        guard let text = body.message.text, !text.isEmpty, text.utf8.count <= 1000 else {
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
            case .drop:
                // Delivered, so Instagram echoes it, even though the sender never learns the answer.
                _ = try await deliver(text, to: body.recipient.id, from: igID)
                return Response(
                    status: .ok, headers: [.contentType: "application/json", .contentLength: "64"], body: ResponseBody { _ in throw DroppedConnection() })
            }
        }
        let mid = try await deliver(text, to: body.recipient.id, from: igID)
        return try SandboxJSON.response(SendAnswer(recipient_id: body.recipient.id, message_id: mid))
    }

    /// Records the message as sent and queues its echo; returns its message id.
    private func deliver(_ text: String, to recipient: String, from igID: String) async throws -> String {
        let mid = await state.newMID()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        await state.record(SandboxMessage(direction: "out", customerID: recipient, text: text, mid: mid, atMs: now), account: igID)
        if echoes {
            try webhooks.send(
                InstagramWebhook(
                    account: igID, sender: igID, recipient: recipient, timestampMs: now,
                    message: .init(mid: mid, text: text, is_echo: true)))
        }
        return mid
    }
}
