import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The customer simulator (`/simulate/...`): a customer writes or taps an Ice Breaker, and the signed webhook Instagram
/// would send goes to ingest; plus what a test reads back (the conversation, the Ice Breakers set).
struct SimulatorRoutes: Sendable {
    let state: SandboxState
    let webhooks: WebhookSender

    /// `POST /simulate/dm`. With `is_echo`, a person answering from the Instagram app (an echo not sent by Flowtalk).
    struct DirectMessage: Decodable {
        let ig_id: String
        let from: String
        let text: String
        let timestamp_ms: Int64?
        let mid: String?
        let is_echo: Bool?
        /// The customer's Instagram username, for the User Profile API; "" for none (a customer who blocked the business).
        let username: String?
        /// `reply` (a reply to the business's story) or `mention` (the customer's story mentions the business; `text` may be "").
        let story: String?
        /// A tap on a quick reply: the payload of the option (from a sent message's `quick_replies`); `text` is its title.
        let quick_reply_payload: String?
    }

    /// `POST /simulate/reaction`: a customer's reaction to message `mid` (`react`, or `unreact` to take it back).
    struct ReactionBody: Decodable {
        let ig_id: String
        let from: String
        let mid: String
        let action: String?
        let emoji: String?
    }

    /// `POST /simulate/postback`: a tap on an Ice Breaker or a button.
    struct Postback: Decodable {
        let ig_id: String
        let from: String
        let title: String
        let payload: String
    }

    /// The simulator's answer: the message's id and what ingest answered.
    struct Delivered: Encodable {
        let mid: String
        let ingest_status: Int
    }

    struct Conversation: Encodable { let messages: [SandboxMessage] }

    /// `{}` when no Ice Breakers are set.
    struct NoProfile: Encodable {}

    func add(to router: Router<SandboxRequestContext>) {
        router.post("/simulate/dm") { request, context -> Response in
            try await simulate(try await request.decode(as: DirectMessage.self, context: context))
        }
        router.post("/simulate/postback") { request, context -> Response in
            try await simulate(try await request.decode(as: Postback.self, context: context))
        }
        router.post("/simulate/reaction") { request, context -> Response in
            try await simulate(try await request.decode(as: ReactionBody.self, context: context))
        }
        router.get("/simulate/conversations/:igid") { _, context -> Response in
            let igID = try context.parameters.require("igid")
            return try SandboxJSON.response(Conversation(messages: await state.messages(igID)))
        }
        router.get("/simulate/ice-breakers/:igid") { _, context -> Response in
            let igID = try context.parameters.require("igid")
            guard let profile = await state.iceBreakers(igID) else { return try SandboxJSON.response(NoProfile()) }
            return try SandboxJSON.response(profile)
        }
    }

    /// The message as Instagram shapes it, a story reply or a mention included.
    static func message(mid: String, _ body: DirectMessage, isEcho: Bool) -> InstagramWebhook.Message {
        let story = InstagramWebhook.Message.Story(id: "story-\(mid.suffix(6))", url: "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=\(mid.suffix(6))")
        var message = InstagramWebhook.Message(mid: mid, text: body.story == "mention" && body.text.isEmpty ? nil : body.text, is_echo: isEcho ? true : nil)
        if body.story == "reply" { message.reply_to = .init(story: story) }
        if body.story == "mention" { message.attachments = [.init(type: "story_mention", payload: .init(url: story.url))] }
        if let payload = body.quick_reply_payload, !isEcho { message.quick_reply = .init(payload: payload) }
        return message
    }

    func simulate(_ body: DirectMessage) async throws -> Response {
        var mid = body.mid ?? ""
        if mid.isEmpty { mid = await state.newMID() }
        let timestamp = body.timestamp_ms ?? Int64(Date().timeIntervalSince1970 * 1000)
        let isEcho = body.is_echo ?? false
        if let name = body.username, !isEcho { await state.setUsername(name, customer: body.from) }
        let webhook = InstagramWebhook(
            account: body.ig_id, sender: isEcho ? body.ig_id : body.from, recipient: isEcho ? body.from : body.ig_id, timestampMs: timestamp,
            message: Self.message(mid: mid, body, isEcho: isEcho))
        let message = SandboxMessage(direction: isEcho ? "out" : "in", customerID: body.from, text: body.text, mid: mid, atMs: timestamp)
        return try await deliver(webhook, message, account: body.ig_id)
    }

    func simulate(_ body: ReactionBody) async throws -> Response {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let action = body.action ?? "react"
        let reaction = InstagramWebhook.Reaction(
            mid: body.mid, action: action, reaction: action == "react" ? "love" : nil, emoji: action == "react" ? (body.emoji ?? "❤️") : nil)
        let webhook = InstagramWebhook(account: body.ig_id, sender: body.from, recipient: body.ig_id, timestampMs: now, reaction: reaction)
        let status = try await webhooks.post(webhook)
        return try SandboxJSON.response(Delivered(mid: body.mid, ingest_status: status))
    }

    func simulate(_ body: Postback) async throws -> Response {
        let mid = await state.newMID()
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let webhook = InstagramWebhook(
            account: body.ig_id, sender: body.from, recipient: body.ig_id, timestampMs: now, postback: .init(mid: mid, title: body.title, payload: body.payload))
        return try await deliver(webhook, SandboxMessage(direction: "in", customerID: body.from, text: body.title, mid: mid, atMs: now), account: body.ig_id)
    }

    /// Records a simulated message, posts its signed webhook to ingest (through the sender's queue) and answers
    /// `{"mid","ingest_status"}`.
    private func deliver(_ webhook: InstagramWebhook, _ message: SandboxMessage, account igID: String) async throws -> Response {
        await state.record(message, account: igID)
        let status = try await webhooks.post(webhook)
        return try SandboxJSON.response(Delivered(mid: message.mid, ingest_status: status))
    }
}
