import Crypto
import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Metrics
import NIOCore

/// Meta's Instagram webhook: the verification handshake and signed deliveries.
struct WebhookController<Context: RequestContext>: Sendable {
    let verifier: WebhookSignatureVerifier
    let verifyToken: Secret<String>
    let maxBodyBytes: Int
    let enqueuer: BatchingEnqueuer
    let gate: SchemaGate
    let metrics: IngestMetrics

    func add(to router: Router<Context>) {
        router.get("/webhooks/instagram", use: verify)
        router.post("/webhooks/instagram", use: receive)
        for method in [HTTPRequest.Method.put, .delete, .patch] {
            router.on("/webhooks/instagram", method: method) { _, _ -> Response in
                throw APIError(.methodNotAllowed, code: "method_not_allowed", message: "Use GET or POST.", headers: [.allow: "GET, POST"])
            }
        }
    }

    /// `GET`: echo `hub.challenge` as text/plain when the mode is `subscribe` and the token matches; 403 otherwise.
    func verify(_ request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        let mode = query["hub.mode"].map(String.init)
        let token = query["hub.verify_token"].map(String.init) ?? ""
        let challenge = query["hub.challenge"].map(String.init) ?? ""
        // Compare digests so the comparison takes the same time whatever the guess.
        let tokenMatches = SHA256.hash(data: Array(token.utf8)) == SHA256.hash(data: Array(verifyToken.value.utf8))
        guard mode == "subscribe", tokenMatches else {
            context.logger.notice("Webhook verification refused")
            throw APIError.forbidden("Verification failed.", code: "verification_failed")
        }
        // The challenge is echoed, so accept only the short token Meta sends: never reflect markup.
        guard !challenge.isEmpty, challenge.utf8.count <= 128,
            challenge.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2D || $0 == 0x5F })
        else { throw APIError.badRequest("hub.challenge must be a short alphanumeric value.", code: "invalid_challenge") }
        context.logger.info("Webhook verified")
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: challenge)))
    }

    /// `POST`: size limit, signature over the raw bytes, parse, then queue every event of the delivery in one commit.
    func receive(_ request: Request, context: Context) async throws -> Response {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes {
            metrics.delivery("too_large")
            throw APIError(.contentTooLarge, code: "payload_too_large", message: "The body is larger than \(maxBodyBytes) bytes.")
        }
        let body: ByteBuffer
        do {
            var request = request
            body = try await request.collectBody(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            metrics.delivery("too_large")
            throw APIError(.contentTooLarge, code: "payload_too_large", message: "The body is larger than \(maxBodyBytes) bytes.")
        }
        let bytes = body.readableBytesView
        guard let match = verifier.verify(headerValues: request.headers[values: .xHubSignature256], body: bytes) else {
            metrics.delivery("bad_signature")
            context.logger.notice("Webhook signature rejected")
            throw APIError.unauthorized("Missing or invalid X-Hub-Signature-256.", code: "invalid_signature")
        }
        guard let contentType = request.headers[.contentType], Self.isJSON(contentType) else {
            metrics.delivery("unsupported_media_type")
            throw APIError(.unsupportedMediaType, code: "unsupported_media_type", message: "Content-Type must be application/json.")
        }
        let receivedAt = Int64(Date().timeIntervalSince1970 * 1000)
        let parsed: ParsedWebhook
        do {
            parsed = try InstagramWebhook.parse(bytes, receivedAtMs: receivedAt)
        } catch let error as WebhookPayloadError {
            metrics.delivery("malformed")
            context.logger.notice("Webhook body refused", metadata: ["webhook.reason": "\(error)"])
            throw APIError.badRequest("The body is not a valid Instagram webhook delivery: \(error).", code: "malformed_payload")
        }
        for (reason, count) in parsed.skipped { metrics.skipped(reason, count: count) }

        var events = parsed.events
        if let trace = TraceContext.current() {
            for index in events.indices { (events[index].traceParent, events[index].traceState) = (trace.parent, trace.state) }
        }
        let jobs = events.map(InboundEventJob.make)
        if !jobs.isEmpty {
            guard gate.isOpen else {
                metrics.delivery("unavailable")
                throw APIError.unavailable
            }
            do {
                try await enqueuer.submit(jobs)
            } catch {
                // Not acknowledged: Meta delivers again, and the dedupe keys make the retry safe.
                metrics.delivery("unavailable")
                context.logger.warning("Webhook not queued", metadata: ["error.type": "\(type(of: error))"])
                throw APIError.unavailable
            }
        }
        for event in parsed.events { metrics.event(event.kind.rawValue) }
        metrics.delivery("accepted")
        context.logger.info(
            "Webhook accepted", metadata: ["webhook.events": "\(jobs.count)", "webhook.skipped": "\(parsed.skipped.values.reduce(0, +))", "webhook.secret": "\(match.rawValue)"])
        return Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok","events":\#(jobs.count)}"#)))
    }
}

extension WebhookController {
    /// `application/json`, in any case, optionally followed by parameters (`; charset=utf-8`).
    static func isJSON(_ contentType: String) -> Bool {
        let mediaType = contentType.utf8.prefix { $0 != UInt8(ascii: ";") }
        var trimmed = Substring(mediaType)
        while trimmed.last == " " || trimmed.last == "\t" { trimmed = trimmed.dropLast() }
        while trimmed.first == " " || trimmed.first == "\t" { trimmed = trimmed.dropFirst() }
        return trimmed.lowercased() == "application/json"
    }
}

/// Ingest's counters: deliveries by outcome, events queued by kind, events skipped by reason. The label values are a
/// closed set, so every counter is made once up front and a request only increments.
struct IngestMetrics: Sendable {
    static let outcomes = ["accepted", "bad_signature", "malformed", "too_large", "unsupported_media_type", "unavailable"]
    static let reasons = ["read", "reaction", "edit", "referral", "standby", "changes", "test_payload", "unknown", "malformed_item", "invalid_id"]

    private let deliveries: [String: Counter]
    private let events: [String: Counter]
    private let skips: [String: Counter]

    init(factory: any MetricsFactory) {
        func counters(_ label: String, _ dimension: String, _ values: [String]) -> [String: Counter] {
            Dictionary(uniqueKeysWithValues: values.map { ($0, Counter(label: label, dimensions: [(dimension, $0)], factory: factory)) })
        }
        deliveries = counters("flowtalk_webhook_deliveries_total", "outcome", Self.outcomes)
        events = counters("flowtalk_webhook_events_total", "kind", InboundEvent.Kind.allCases.map(\.rawValue))
        skips = counters("flowtalk_webhook_events_skipped_total", "reason", Self.reasons)
    }

    func delivery(_ outcome: String) { deliveries[outcome]?.increment() }
    func event(_ kind: String) { events[kind]?.increment() }
    func skipped(_ reason: String, count: Int) { skips[reason]?.increment(by: count) }
}

extension HTTPField.Name {
    static let xHubSignature256 = HTTPField.Name("X-Hub-Signature-256")!
}
