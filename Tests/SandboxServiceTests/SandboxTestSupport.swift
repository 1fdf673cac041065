import FlowtalkCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

@testable import SandboxService

/// Two accounts the sandbox knows from the start, a secret to sign with, and small helpers for reading answers.
enum Sandbox {
    static let shop = "17841400000000777"
    static let shopToken = "IGAA-test-shop-token"
    static let other = "17841400000000888"
    static let otherToken = "IGAA-test-other-token"
    static let secret = "sandbox-test-app-secret"

    /// A sandbox whose webhooks go to `ingestURL` (by default a port nothing listens on).
    static func configuration(ingestURL: String = "http://127.0.0.1:9", echoes: Bool = false) -> SandboxConfiguration {
        var configuration = SandboxConfiguration(
            appSecret: Secret(secret), ingestURL: ingestURL,
            accounts: [
                SandboxAccount(igID: shop, username: "shop", token: shopToken), SandboxAccount(igID: other, username: "other", token: otherToken),
            ], port: 0)
        configuration.echoes = echoes
        configuration.logLevel = "error"
        return configuration
    }

    static func app(ingestURL: String = "http://127.0.0.1:9", echoes: Bool = false) async throws -> some ApplicationProtocol {
        try await buildApplication(configuration: configuration(ingestURL: ingestURL, echoes: echoes), logger: Logger(label: "sandbox-test"))
    }

    static func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)", .contentType: "application/json"] }
    static let json: HTTPFields = [.contentType: "application/json"]

    static func decode<T: Decodable>(_ type: T.Type, _ body: ByteBuffer) throws -> T {
        try JSONDecoder().decode(type, from: Data(String(buffer: body).utf8))
    }

    /// `POST /{version}/{ig_id}/messages` as GraphClient sends it.
    static func send(_ client: some TestClientProtocol, text: String = "Hello there", to recipient: String = "customer-1", token: String = shopToken, account: String = shop)
        async throws -> TestResponse
    {
        try await client.execute(
            uri: "/v25.0/\(account)/messages", method: .post, headers: bearer(token),
            body: ByteBuffer(string: #"{"recipient":{"id":"\#(recipient)"},"message":{"text":"\#(text)"}}"#))
    }

    static func conversation(_ client: some TestClientProtocol, _ igID: String = shop) async throws -> [Message] {
        try decode(Conversation.self, try await client.execute(uri: "/simulate/conversations/\(igID)", method: .get).body).messages
    }

    struct Conversation: Decodable { let messages: [Message] }
    struct Message: Decodable, Equatable {
        let direction: String
        let customer_id: String
        let text: String
        let mid: String
    }
}

/// A stand-in for ingest: records each webhook it is posted, with its signature header, and answers 200.
actor Inbox {
    struct Delivery: Sendable {
        let signature: [String]
        let body: [UInt8]
    }
    private(set) var deliveries: [Delivery] = []

    func add(_ delivery: Delivery) { deliveries.append(delivery) }

    /// Waits (up to 5 s) until `count` deliveries have arrived.
    func waitFor(_ count: Int) async throws -> [Delivery] {
        for _ in 0..<250 where deliveries.count < count { try await Task.sleep(for: .milliseconds(20)) }
        return deliveries
    }

    /// Runs `body` with a live listener; `body` gets the ingest URL to give the sandbox.
    func listen(_ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let router = Router()
        router.post("/webhooks/instagram") { request, _ -> HTTPResponse.Status in
            var request = request
            let bytes = try await request.collectBody(upTo: 1 << 20)
            await self.add(Delivery(signature: request.headers[values: HTTPField.Name("X-Hub-Signature-256")!], body: Array(buffer: bytes)))
            return .ok
        }
        try await Application(router: router, logger: Logger(label: "ingest-stand-in")).test(.live) { client in
            let port = try #require(client.port)
            try await body("http://localhost:\(port)")
        }
    }
}
