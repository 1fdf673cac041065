import AsyncHTTPClient
import NIOSSL
import FlowtalkCore
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// A webhook delivery as Instagram shapes it: one entry with one messaging item whose event is a `message` (an echo
/// when `is_echo`) or a `postback` (an Ice Breaker tap).
struct InstagramWebhook: Encodable {
    struct Party: Encodable { let id: String }
    struct Message: Encodable {
        struct Story: Encodable {
            let id: String
            let url: String
        }
        struct ReplyTo: Encodable { let story: Story }
        struct Attachment: Encodable {
            struct Payload: Encodable { let url: String }
            let type: String
            let payload: Payload
        }
        let mid: String
        /// Left out for a story mention without text.
        let text: String?
        let is_echo: Bool?
        /// A reply to the business's story, as Instagram sends it.
        var reply_to: ReplyTo? = nil
        /// A story mention: one `story_mention` attachment with the story's CDN address.
        var attachments: [Attachment]? = nil
        /// A tap on a quick reply: its payload (the text is its title).
        var quick_reply: QuickReply? = nil
        struct QuickReply: Encodable { let payload: String }
    }
    /// A reaction to a message (`message_reactions`).
    struct Reaction: Encodable {
        let mid: String
        let action: String
        let reaction: String?
        let emoji: String?
    }
    struct Postback: Encodable {
        let mid: String
        let title: String
        let payload: String
    }
    struct Messaging: Encodable {
        let sender: Party
        let recipient: Party
        let timestamp: Int64
        let message: Message?
        let postback: Postback?
        var reaction: Reaction? = nil
    }
    struct Entry: Encodable {
        let time: Int64
        let id: String
        let messaging: [Messaging]
    }
    var object = "instagram"
    let entry: [Entry]

    init(
        account: String, sender: String, recipient: String, timestampMs: Int64, message: Message? = nil, postback: Postback? = nil, reaction: Reaction? = nil
    ) {
        let item = Messaging(
            sender: Party(id: sender), recipient: Party(id: recipient), timestamp: timestampMs, message: message, postback: postback, reaction: reaction)
        entry = [Entry(time: timestampMs, id: account, messaging: [item])]
    }
}

/// Posts the sandbox's webhooks to ingest (`INGEST_URL/webhooks/instagram`), signed with `X-Hub-Signature-256` as Meta
/// signs them: the echoes of sent messages and the simulator's DMs and taps.
///
/// A `Service` in the application's group, fed by an `AsyncStream` that holds at most `queueLimit` deliveries. When
/// it is full a new delivery is dropped (logged; a simulator call waiting for it gets `WebhookSenderError.queueFull`).
/// At most `concurrency` posts are in flight. On graceful shutdown the stream is finished, the simulator's queued
/// deliveries are still posted and the queued echoes dropped (with ingest gone, each would wait out its 10-s timeout:
/// a full queue kept the sandbox from stopping for minutes), and then `run()` returns; a delivery offered after that is
/// refused (`.stopped`).
final class WebhookSender: Service, Sendable {
    struct Delivery: Sendable {
        /// Set when a caller waits for ingest's status (the simulator); nil for echoes.
        let waiter: Int?
        let body: [UInt8]
    }

    private struct Waiters {
        var next = 0
        var stopped = false
        /// Graceful shutdown began: queued echoes are dropped.
        var stopping = false
        var pending: [Int: CheckedContinuation<Int, any Error>] = [:]
    }

    static let defaultQueueLimit = 1_000
    static let concurrency = 32

    private let url: String
    private let secret: Secret<String>
    private let logger: Logger
    private let stream: AsyncStream<Delivery>
    private let continuation: AsyncStream<Delivery>.Continuation
    private let waiters = Mutex(Waiters())
    /// Its own client when `SANDBOX_CA_FILE` names a CA to trust (ingest behind a TLS proxy with a private certificate,
    /// `make run-scaled`); otherwise the shared one.
    private let ownClient: HTTPClient?

    init(ingestURL: String, secret: Secret<String>, queueLimit: Int = defaultQueueLimit, caFile: String? = nil, logger: Logger) {
        url = "\(ingestURL)/webhooks/instagram"
        self.secret = secret
        self.logger = logger
        if let caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(caFile)
            ownClient = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(tlsConfiguration: tls))
        } else {
            ownClient = nil
        }
        let (stream, continuation) = AsyncStream.makeStream(of: Delivery.self, bufferingPolicy: .bufferingOldest(queueLimit))
        self.stream = stream
        self.continuation = continuation
    }

    /// Queues a webhook without waiting for it (an echo). Failures are logged at debug level, without the body.
    func send(_ webhook: InstagramWebhook) throws {
        enqueue(Delivery(waiter: nil, body: try SandboxJSON.encode(webhook)))
    }

    /// Posts a webhook through the queue and returns ingest's HTTP status.
    func post(_ webhook: InstagramWebhook) async throws -> Int {
        let body = try SandboxJSON.encode(webhook)
        return try await withCheckedThrowingContinuation { waiter in
            let id = waiters.withLock { (state: inout Waiters) -> Int? in
                guard !state.stopped else { return nil }
                state.next += 1
                state.pending[state.next] = waiter
                return state.next
            }
            guard let id else { return waiter.resume(throwing: WebhookSenderError.stopped) }
            enqueue(Delivery(waiter: id, body: body))
        }
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                var running = 0
                for await delivery in stream {
                    if delivery.waiter == nil, waiters.withLock({ $0.stopping }) { continue }
                    if running >= Self.concurrency {
                        await group.next()
                        running -= 1
                    }
                    group.addTask { await self.deliver(delivery) }
                    running += 1
                }
            }
        } onGracefulShutdown: {
            self.waiters.withLock { $0.stopping = true }
            self.continuation.finish()
        }
        // Cancelled, or drained after a graceful shutdown: nobody is left waiting.
        continuation.finish()
        let stranded = waiters.withLock { (state: inout Waiters) -> [CheckedContinuation<Int, any Error>] in
            state.stopped = true
            defer { state.pending = [:] }
            return Array(state.pending.values)
        }
        for waiter in stranded { waiter.resume(throwing: WebhookSenderError.stopped) }
        try? await ownClient?.shutdown()
    }

    private func enqueue(_ delivery: Delivery) {
        switch continuation.yield(delivery) {
        case .enqueued: break
        case .dropped(let dropped):
            logger.warning("webhook queue full; a delivery was dropped", metadata: ["echo": "\(dropped.waiter == nil)"])
            finish(dropped.waiter, .failure(WebhookSenderError.queueFull))
        case .terminated: finish(delivery.waiter, .failure(WebhookSenderError.stopped))
        @unknown default: finish(delivery.waiter, .failure(WebhookSenderError.stopped))
        }
    }

    private func deliver(_ delivery: Delivery) async {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-Hub-Signature-256", value: WebhookSignatureVerifier.sign(body: delivery.body, secret: secret.value))
        request.body = .bytes(ByteBuffer(bytes: delivery.body))
        do {
            let response = try await (ownClient ?? HTTPClient.shared).execute(request, timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 16)
            finish(delivery.waiter, .success(Int(response.status.code)))
        } catch {
            if delivery.waiter == nil { logger.debug("echo not delivered", metadata: ["error": "\(type(of: error))"]) }
            finish(delivery.waiter, .failure(error))
        }
    }

    private func finish(_ id: Int?, _ result: Result<Int, any Error>) {
        guard let id, let waiter = waiters.withLock({ $0.pending.removeValue(forKey: id) }) else { return }
        waiter.resume(with: result)
    }
}

enum WebhookSenderError: Error {
    /// The queue held `queueLimit` deliveries already.
    case queueFull
    /// The sender has stopped (the sandbox is shutting down).
    case stopped
}
