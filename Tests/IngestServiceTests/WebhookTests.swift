import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import FlowtalkTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InMemoryLogging
import Logging
import NIOCore
import PostgresNIO
import Testing

@testable import IngestService

let testAppSecret = "app-secret-CANARY-7f3e"
let testInstagramSecret = "ig-secret-CANARY-19ab"
let testVerifyToken = "verify-CANARY-c0ffee"

extension IngestConfiguration {
    static func testing(_ database: TestDatabase, maxBodyBytes: Int = 1 << 20) -> IngestConfiguration {
        IngestConfiguration(
            common: CommonConfiguration(database: database.configuration, port: 0, logLevel: .trace),
            metaAppSecret: Secret(testAppSecret), instagramAppSecret: Secret(testInstagramSecret), verifyToken: Secret(testVerifyToken),
            maxBodyBytes: maxBodyBytes)
    }
}

extension HTTPField.Name {
    static let signature = HTTPField.Name("X-Hub-Signature-256")!
}

/// A signed webhook POST, as Meta sends it.
func deliver(_ client: some TestClientProtocol, _ body: String, secret: String = testAppSecret, contentType: String? = "application/json",
             signature: String? = nil) async throws -> TestResponse {
    var headers: HTTPFields = [:]
    if let contentType { headers[.contentType] = contentType }
    headers[.signature] = signature ?? WebhookSignatureVerifier.sign(body: Array(body.utf8), secret: secret)
    return try await client.execute(uri: "/webhooks/instagram", method: .post, headers: headers, body: ByteBuffer(string: body))
}

func jobs(_ database: TestDatabase) async throws -> [(kind: String, dedupeKey: String?, event: InboundEvent)] {
    try await database.withClient(logger: .quiet("q")) { client in
        var rows: [(String, String?, InboundEvent)] = []
        for try await (kind, key, payload) in try await client.query("SELECT kind, dedupe_key, payload FROM jobs ORDER BY id").decode((String, String?, ByteBuffer).self) {
            rows.append((kind, key, try JSONDecoder().decode(InboundEvent.self, from: Data(payload.readableBytesView))))
        }
        return rows
    }
}

func delivery(mid: String, text: String, account: String = "17841400538867190", customer: String = "1129842642640637") -> String {
    #"{"object":"instagram","entry":[{"time":1762022388574,"id":"\#(account)","messaging":[{"sender":{"id":"\#(customer)"},"recipient":{"id":"\#(account)"},"timestamp":1762022346848,"message":{"mid":"\#(mid)","text":"\#(text)"}}]}]}"#
}

@Suite struct WebhookTests {
    func withIngest(maxBodyBytes: Int = 1 << 20, logger: Logger = .quiet("ingest"),
                    _ body: @Sendable @escaping (any TestClientProtocol, TestDatabase) async throws -> Void) async throws {
        try await TestDatabase.withFresh { database in
            let app = try await buildApplication(configuration: .testing(database, maxBodyBytes: maxBodyBytes), logger: logger)
            try await app.test(.router) { client in
                try await waitUntilReady(client)
                try await body(client, database)
            }
        }
    }

    @Test func verificationHandshake() async throws {
        try await withIngest { client, _ in
            let ok = try await client.execute(uri: "/webhooks/instagram?hub.mode=subscribe&hub.verify_token=\(testVerifyToken)&hub.challenge=1158201444", method: .get)
            #expect(ok.status == .ok)
            #expect(String(buffer: ok.body) == "1158201444")
            #expect(ok.headers[.contentType]?.hasPrefix("text/plain") == true)

            for uri in [
                "/webhooks/instagram?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
                "/webhooks/instagram?hub.mode=unsubscribe&hub.verify_token=\(testVerifyToken)&hub.challenge=1",
                "/webhooks/instagram?hub.verify_token=\(testVerifyToken)&hub.challenge=1",
                "/webhooks/instagram",
            ] {
                let refused = try await client.execute(uri: uri, method: .get)
                #expect(refused.status == .forbidden)
                #expect(!String(buffer: refused.body).contains(testVerifyToken))
            }
            // A right token with a markup challenge is not reflected.
            let markup = try await client.execute(uri: "/webhooks/instagram?hub.mode=subscribe&hub.verify_token=\(testVerifyToken)&hub.challenge=%3Cscript%3E", method: .get)
            #expect(markup.status == .badRequest)
            #expect(!String(buffer: markup.body).contains("<script>"))
        }
    }

    @Test func aSignedDeliveryIsQueuedOnceAndRedeliveryAddsNothing() async throws {
        try await withIngest { client, database in
            let first = try await deliver(client, Fixtures.f1)
            #expect(first.status == .ok)
            let queued = try await jobs(database)
            #expect(queued.count == 1)
            #expect(queued.first?.kind == "inbound.message")
            #expect(queued.first?.event.text == "OI")
            #expect(queued.first?.event.accountID == "17841400538867190")
            #expect(queued.first?.event.customerID == "1129842642640637")

            // Meta redelivers: same bytes, again and again, even concurrently.
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<5 { group.addTask { try await deliver(client, Fixtures.f1).status } }
                for try await status in group { #expect(status == .ok) }
            }
            #expect(try await jobs(database).count == 1)
        }
    }

    @Test func everyReferenceFixtureIsHandled() async throws {
        try await withIngest { client, database in
            for fixture in [Fixtures.f1, Fixtures.f2, Fixtures.f3, Fixtures.f4, Fixtures.f5, Fixtures.f6] {
                let response = try await deliver(client, fixture)
                #expect(response.status == .ok)
            }
            let queued = try await jobs(database)
            #expect(queued.map(\.kind) == ["inbound.message", "inbound.echo", "inbound.message", "inbound.edit"])
            #expect(queued[1].event.customerID == "2095110131238447")
            #expect(queued[2].event.attachmentTypes == ["ig_reel"])
            // Read receipts and dashboard test payloads are counted, not queued.
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metrics.contains(#"flowtalk_webhook_events_skipped_total{reason="read"} 1"#))
            #expect(metrics.contains(#"flowtalk_webhook_events_skipped_total{reason="changes"} 1"#))
            #expect(metrics.contains(#"flowtalk_webhook_deliveries_total{outcome="accepted"} 6"#))
        }
    }

    @Test func oneDeliveryWithManyEventsIsQueuedTogether() async throws {
        try await withIngest { client, database in
            let body = """
                {"object":"instagram","entry":[
                  {"id":"111","messaging":[
                    {"sender":{"id":"c1"},"recipient":{"id":"111"},"timestamp":1762022346848,"message":{"mid":"m1","text":"first"}},
                    {"sender":{"id":"c1"},"recipient":{"id":"111"},"timestamp":1762022346849,"postback":{"mid":"p1","title":"Hours?","payload":"FAQ_HOURS"}},
                    {"sender":{"id":"c1"},"recipient":{"id":"111"},"timestamp":1762022346850,"reaction":{"mid":"m1","action":"react","reaction":"love"}},
                    {"sender":{"id":"111"},"recipient":{"id":"c1"},"timestamp":1762022346851,"message":{"mid":"e1","text":"human reply","is_echo":true}}]},
                  {"id":"222","messaging":[
                    {"sender":{"id":"c2"},"recipient":{"id":"222"},"timestamp":1762022346852,"message":{"mid":"m2","text":"other account"}}]}]}
                """
            #expect(try await deliver(client, body).status == .ok)
            let queued = try await jobs(database)
            #expect(queued.map(\.kind) == ["inbound.message", "inbound.postback", "inbound.reaction", "inbound.echo", "inbound.message"])
            #expect(queued.map(\.dedupeKey) == [
                "ig:message:m1", "ig:postback:p1", "ig:reaction:reaction.react.1762022346850.m1", "ig:echo:e1", "ig:message:m2",
            ])
            #expect(queued[1].event.postbackPayload == "FAQ_HOURS")
        }
    }

    @Test func refusedDeliveriesStoreNothing() async throws {
        try await withIngest(maxBodyBytes: 4096) { client, database in
            let body = Fixtures.f1
            var changed = Array(body.utf8)
            changed[changed.count - 10] ^= 1
            let cases: [(String, TestResponse, HTTPResponse.Status)] = [
                ("no signature", try await client.execute(uri: "/webhooks/instagram", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body)), .unauthorized),
                ("another app's secret", try await deliver(client, body, secret: "someone else"), .unauthorized),
                ("sha1 only", try await deliver(client, body, signature: "sha1=0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33"), .unauthorized),
                ("empty signature", try await deliver(client, body, signature: "sha256="), .unauthorized),
                ("one byte changed", try await deliver(client, String(decoding: changed, as: UTF8.self), signature: WebhookSignatureVerifier.sign(body: Array(body.utf8), secret: testAppSecret)), .unauthorized),
                ("malformed JSON", try await deliver(client, "{\"object\":\"instagram\",\"entry\":["), .badRequest),
                ("unknown object", try await deliver(client, #"{"object":"page","entry":[]}"#), .badRequest),
                ("not JSON content", try await deliver(client, body, contentType: "text/plain"), .unsupportedMediaType),
                ("too large", try await deliver(client, #"{"object":"instagram","entry":[],"pad":""# + String(repeating: "x", count: 5000) + "\"}"), .contentTooLarge),
            ]
            for (name, response, status) in cases {
                #expect(response.status == status, "\(name)")
                let error = try JSONDecoder().decode(ErrorBody.self, from: Data(response.body.readableBytesView))
                #expect(!error.error.code.isEmpty, "\(name)")
            }
            let put = try await client.execute(uri: "/webhooks/instagram", method: .put, body: ByteBuffer(string: body))
            #expect(put.status == .methodNotAllowed)
            #expect(try await jobs(database).isEmpty)
        }
    }

    @Test func theInstagramAppSecretIsAcceptedToo() async throws {
        try await withIngest { client, database in
            let response = try await deliver(client, delivery(mid: "ig-secret", text: "hello"), secret: testInstagramSecret)
            #expect(response.status == .ok)
            let queued = try await jobs(database)
            #expect(queued.count == 1)
        }
    }

    @Test func concurrentDeliveriesShareCommitsAndAllArrive() async throws {
        try await withIngest { client, database in
            try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for index in 0..<60 {
                    group.addTask { try await deliver(client, delivery(mid: "m-\(index)", text: "message \(index)", customer: "c\(index % 7)")).status }
                }
                for try await status in group { #expect(status == .ok) }
            }
            let queued = try await jobs(database)
            #expect(queued.count == 60)
            #expect(Set(queued.compactMap(\.event.mid)).count == 60)
        }
    }

    @Test func logsAndResponsesCarryNoSecretOrMessageText() async throws {
        let logs = InMemoryLogHandler()
        var logger = Logger(label: "ingest") { _ in logs }
        logger.logLevel = .trace
        let text = "MESSAGE-CANARY-\(UUID().uuidString)"
        try await withIngest(logger: logger) { client, _ in
            var bodies: [String] = []
            let signature = WebhookSignatureVerifier.sign(body: Array(delivery(mid: "canary", text: text).utf8), secret: testAppSecret)
            bodies.append(String(buffer: try await deliver(client, delivery(mid: "canary", text: text)).body))
            bodies.append(String(buffer: try await deliver(client, delivery(mid: "canary2", text: text), secret: "wrong").body))
            bodies.append(String(buffer: try await deliver(client, "{\"text\":\"\(text)\"").body))
            bodies.append(String(buffer: try await client.execute(uri: "/webhooks/instagram?hub.mode=subscribe&hub.verify_token=\(testVerifyToken)&hub.challenge=42", method: .get).body))
            bodies.append(String(buffer: try await client.execute(uri: "/metrics", method: .get).body))
            let logText = logs.entries.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n")
            #expect(!logText.isEmpty)
            for canary in [text, testAppSecret, testInstagramSecret, testVerifyToken, String(signature.dropFirst(7))] {
                #expect(!logText.contains(canary))
                for body in bodies { #expect(!body.contains(canary)) }
            }
        }
    }
}

@Suite struct WebhookWithoutDatabaseTests {
    @Test func unreachableDatabaseMeansNotReadyAndNothingAcknowledged() async throws {
        // Nothing listens on this port: migrations keep retrying, so the service is up but not ready.
        var database = try DatabaseURL.configuration(Secret("postgres://flowtalk@127.0.0.1:1/flowtalk"))
        database.options.connectTimeout = .milliseconds(200)
        let configuration = IngestConfiguration(
            common: CommonConfiguration(database: database, port: 0), metaAppSecret: Secret(testAppSecret), verifyToken: Secret(testVerifyToken))
        let app = try await buildApplication(configuration: configuration, logger: .quiet("ingest"))
        try await app.test(.router) { client in
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            let ready = try await client.execute(uri: "/readyz", method: .get)
            #expect(ready.status == .serviceUnavailable)
            #expect(try await deliver(client, Fixtures.f1).status == .serviceUnavailable)
            // Signature is still checked first.
            #expect(try await deliver(client, Fixtures.f1, secret: "wrong").status == .unauthorized)
        }
    }
}

struct ErrorBody: Decodable {
    struct Inner: Decodable {
        let code: String
        let message: String
    }
    let error: Inner
}
