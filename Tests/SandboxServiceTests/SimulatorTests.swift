import FlowtalkCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import ServiceLifecycle
import Testing

@testable import SandboxService

/// The webhooks the sandbox posts to ingest: the simulator's DMs and taps, and the echoes of sends, each signed with
/// the app secret; and the sender's shutdown.
struct SimulatorTests {
    struct Delivered: Decodable {
        let mid: String
        let ingest_status: Int
    }

    /// The one event of a delivery, after checking its signature and parsing it as ingest does (FlowtalkCore's parser).
    func verified(_ delivery: Inbox.Delivery) throws -> InboundEvent {
        let verifier = WebhookSignatureVerifier(primarySecret: Secret(Sandbox.secret))
        #expect(verifier.verify(headerValues: delivery.signature, body: delivery.body) == .primary)
        #expect(WebhookSignatureVerifier(primarySecret: Secret("another-secret")).verify(headerValues: delivery.signature, body: delivery.body) == nil)
        let parsed = try FlowtalkCore.InstagramWebhook.parse(delivery.body, receivedAtMs: 0)
        #expect(parsed.skipped.isEmpty && parsed.events.count == 1)
        let event = try #require(parsed.events.first)
        #expect(event.accountID == Sandbox.shop)
        return event
    }

    @Test func aSimulatedDMIsPostedSignedAndAnsweredWithIngestsStatus() async throws {
        let inbox = Inbox()
        try await inbox.listen { ingest in
            try await Sandbox.app(ingestURL: ingest).test(.router) { client in
                let response = try await client.execute(
                    uri: "/simulate/dm", method: .post, headers: Sandbox.json,
                    body: ByteBuffer(string: #"{"ig_id":"\#(Sandbox.shop)","from":"customer-7","text":"Do you ship to Porto? \"Yes\"","timestamp_ms":1767225600000}"#))
                #expect(response.status == .ok)
                let delivered = try Sandbox.decode(Delivered.self, response.body)
                #expect(delivered.ingest_status == 200)
                // Nothing else in the answer.
                let keys = try (JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]).map { Set($0.keys) }
                #expect(keys == ["mid", "ingest_status"])
                let deliveries = await inbox.deliveries
                #expect(deliveries.count == 1)
                let item = try verified(try #require(deliveries.first))
                #expect(item.kind == .message && item.customerID == "customer-7" && item.timestampMs == 1_767_225_600_000)
                #expect(item.mid == delivered.mid && item.text == #"Do you ship to Porto? "Yes""#)
                #expect(try await Sandbox.conversation(client).map(\.direction) == ["in"])
            }
        }
    }

    @Test func aTapAndAPersonsEchoArePostedTheirWay() async throws {
        let inbox = Inbox()
        try await inbox.listen { ingest in
            try await Sandbox.app(ingestURL: ingest).test(.router) { client in
                let tap = try await client.execute(
                    uri: "/simulate/postback", method: .post, headers: Sandbox.json,
                    body: ByteBuffer(string: #"{"ig_id":"\#(Sandbox.shop)","from":"tapper","title":"Where are you?","payload":"IB_WHERE"}"#))
                #expect(try Sandbox.decode(Delivered.self, tap.body).ingest_status == 200)
                let person = try await client.execute(
                    uri: "/simulate/dm", method: .post, headers: Sandbox.json,
                    body: ByteBuffer(string: #"{"ig_id":"\#(Sandbox.shop)","from":"tapper","text":"I'll answer myself","mid":"m-person-1","is_echo":true}"#))
                #expect(try Sandbox.decode(Delivered.self, person.body).mid == "m-person-1")
                let deliveries = try await inbox.waitFor(2)
                let postback = try verified(deliveries[0])
                #expect(postback.kind == .postback && postback.postbackTitle == "Where are you?" && postback.postbackPayload == "IB_WHERE")
                let echo = try verified(deliveries[1])
                #expect(echo.kind == .echo && echo.customerID == "tapper")
            }
        }
    }

    @Test func aSendIsEchoedSignedThroughTheSender() async throws {
        let inbox = Inbox()
        try await inbox.listen { ingest in
            try await Sandbox.app(ingestURL: ingest, echoes: true).test(.router) { client in
                let sent = try await Sandbox.send(client, text: "We open at nine.", to: "customer-9")
                struct Answer: Decodable { let message_id: String }
                let mid = try Sandbox.decode(Answer.self, sent.body).message_id
                let deliveries = try await inbox.waitFor(1)
                #expect(deliveries.count == 1)
                let echo = try verified(try #require(deliveries.first))
                #expect(echo.kind == .echo && echo.customerID == "customer-9")
                // The echo carries the text as Instagram's does; ingest's parser keeps only that it was sent (an echo's text
                // may hold a customer's name, which is never queued).
                let raw = String(decoding: try #require(deliveries.first).body, as: UTF8.self)
                #expect(echo.mid == mid && raw.contains("We open at nine."))
                #expect(echo.text == nil)
            }
        }
    }

    @Test func withoutEchoesASendPostsNothing() async throws {
        let inbox = Inbox()
        try await inbox.listen { ingest in
            try await Sandbox.app(ingestURL: ingest, echoes: false).test(.router) { client in
                #expect(try await Sandbox.send(client).status == .ok)
                try await Task.sleep(for: .milliseconds(300))
                #expect(await inbox.deliveries.isEmpty)
            }
        }
    }

    @Test func theSenderStopsOnGracefulShutdownAndRefusesLaterDeliveries() async throws {
        let sender = WebhookSender(ingestURL: "http://127.0.0.1:9", secret: Secret(Sandbox.secret), logger: Logger(label: "sender-test"))
        let group = ServiceGroup(configuration: .init(services: [sender], logger: Logger(label: "sender-test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await Task.sleep(for: .milliseconds(100))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        let webhook = InstagramWebhook(account: Sandbox.shop, sender: "c", recipient: Sandbox.shop, timestampMs: 0, message: .init(mid: "m", text: "t", is_echo: nil))
        await #expect(throws: WebhookSenderError.self) { _ = try await sender.post(webhook) }
    }

    @Test func aFullQueueDropsTheNewDelivery() async throws {
        // Never run, so nothing drains the queue of one.
        let sender = WebhookSender(ingestURL: "http://127.0.0.1:9", secret: Secret(Sandbox.secret), queueLimit: 1, logger: Logger(label: "sender-test"))
        let webhook = InstagramWebhook(account: Sandbox.shop, sender: "c", recipient: Sandbox.shop, timestampMs: 0, message: .init(mid: "m", text: "t", is_echo: nil))
        try sender.send(webhook)
        await #expect(throws: WebhookSenderError.self) { _ = try await sender.post(webhook) }
    }
}
