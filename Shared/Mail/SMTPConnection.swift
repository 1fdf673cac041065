import NIOCore
import NIOPosix
import NIOSSL

/// One SMTP reply: its code and the text of its lines (the text stays here: it may quote an address).
struct SMTPReply: Sendable, Equatable {
    var code: Int
    var lines: [String]
}

/// Splits the server's bytes into lines and groups multi-line replies (`250-…` … `250 …`) into one `SMTPReply`.
final class SMTPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = SMTPReply
    private var lines: [String] = []

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > 8192 { throw SMTPError.connectionLost(stage: "reply") }
            return .needMoreData
        }
        var line = buffer.readString(length: newline - view.startIndex + 1) ?? ""
        while line.last == "\n" || line.last == "\r" || line.last == "\r\n" { line.removeLast() }
        let utf8 = Array(line.utf8)
        guard utf8.count >= 3, let code = Int(String(decoding: utf8[0..<3], as: UTF8.self)), (200...599).contains(code) else {
            throw SMTPError.connectionLost(stage: "reply")
        }
        let more = utf8.count > 3 && utf8[3] == UInt8(ascii: "-")
        lines.append(utf8.count > 4 ? String(decoding: utf8[4...], as: UTF8.self) : "")
        if !more {
            context.fireChannelRead(wrapInboundOut(SMTPReply(code: code, lines: lines)))
            lines = []
        }
        return .continue
    }
}

/// Hands replies to whoever waits for the next one; a wait that runs past its time fails and closes the connection.
/// Touched only on its channel's event loop (hence `@unchecked Sendable`).
final class SMTPReplyReader: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = SMTPReply
    private var buffered = CircularBuffer<SMTPReply>()
    private var waiter: EventLoopPromise<SMTPReply>?
    private var failure: SMTPError?
    private var stage = "greeting"
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let reply = unwrapInboundIn(data)
        if let waiter {
            self.waiter = nil
            waiter.succeed(reply)
        } else {
            buffered.append(reply)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(.connectionLost(stage: stage))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case let error as SMTPError: fail(error)
        case is NIOSSLError, is BoringSSLError: fail(.tlsFailed)
        default: fail(.connectionLost(stage: stage))
        }
        context.close(promise: nil)
    }

    /// Why the connection failed, once it has.
    var recordedFailure: SMTPError? { failure }

    private func fail(_ error: SMTPError) {
        if failure == nil { failure = error }
        if let waiter {
            self.waiter = nil
            waiter.fail(failure ?? error)
        }
    }

    /// The next reply, within `timeout`.
    func next(stage: String, timeout: TimeAmount, on eventLoop: any EventLoop) -> EventLoopFuture<SMTPReply> {
        self.stage = stage
        if let reply = buffered.popFirst() { return eventLoop.makeSucceededFuture(reply) }
        if let failure { return eventLoop.makeFailedFuture(failure) }
        let promise = eventLoop.makePromise(of: SMTPReply.self)
        waiter = promise
        let timer = eventLoop.scheduleTask(in: timeout) { [self] in
            fail(.timeout(stage: stage))
            context?.close(promise: nil)
        }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        return promise.futureResult
    }
}

/// An open SMTP connection: send a line, read a reply, start TLS.
struct SMTPConnection: Sendable {
    let channel: any Channel
    let reader: SMTPReplyReader
    let replyTimeout: Duration

    static func open(host: String, port: Int, tls: NIOSSLContext?, serverHostname: String?, connectTimeout: Duration, replyTimeout: Duration)
        async throws -> SMTPConnection
    {
        let reader = SMTPReplyReader()
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.nanoseconds(Int64(connectTimeout.components.seconds) * 1_000_000_000))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverHostname))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPReplyDecoder()))
                    try channel.pipeline.syncOperations.addHandler(reader)
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: host, port: port).get()
        } catch is NIOSSLExtraError {
            throw SMTPError.tlsFailed
        } catch let error as ChannelError {
            if case .connectTimeout = error { throw SMTPError.timeout(stage: "connect") }
            throw SMTPError.connectFailed
        } catch {
            throw SMTPError.connectFailed
        }
        return SMTPConnection(channel: channel, reader: reader, replyTimeout: replyTimeout)
    }

    /// Reads the next reply for `stage`.
    func reply(_ stage: String) async throws -> SMTPReply {
        let timeout = TimeAmount.nanoseconds(Int64(replyTimeout.components.seconds) * 1_000_000_000 + replyTimeout.components.attoseconds / 1_000_000_000)
        return try await channel.eventLoop.flatSubmit { [reader, channel] in
            reader.next(stage: stage, timeout: timeout, on: channel.eventLoop)
        }.get()
    }

    /// Sends `line` (CRLF added) and reads the reply; throws `SMTPError.rejected` unless its code is one of `expected`.
    @discardableResult
    func command(_ line: String, stage: String, expect expected: Set<Int>) async throws -> SMTPReply {
        try await write(Array(line.utf8) + [13, 10])
        return try await expect(stage, expected)
    }

    /// Reads the reply for `stage`; throws `SMTPError.rejected` unless its code is one of `expected`.
    @discardableResult
    func expect(_ stage: String, _ expected: Set<Int>) async throws -> SMTPReply {
        let reply = try await reply(stage)
        guard expected.contains(reply.code) else { throw SMTPError.rejected(stage: stage, code: reply.code) }
        return reply
    }

    func write(_ bytes: [UInt8]) async throws {
        do {
            try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
        } catch {
            // A failed TLS handshake fails the writes waiting for it: the reader knows the reason.
            let known = try? await channel.eventLoop.submit { [reader] in reader.recordedFailure }.get()
            throw (known ?? nil) ?? (error is NIOSSLError ? SMTPError.tlsFailed : SMTPError.connectionLost(stage: "write"))
        }
    }

    /// Puts TLS under the connection (after the server's `220` to STARTTLS).
    func startTLS(_ context: NIOSSLContext, serverHostname: String?) async throws {
        do {
            try await channel.eventLoop.submit { [channel] in
                try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverHostname), position: .first)
            }.get()
        } catch {
            throw SMTPError.tlsFailed
        }
    }

    func close() async {
        try? await channel.close()
    }
}
