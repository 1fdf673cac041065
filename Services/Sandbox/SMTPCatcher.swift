import FlowtalkHTTP
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// The sandbox's SMTP catcher (`SANDBOX_SMTP_PORT`): a real ESMTP server, plain (development allows plain SMTP on
/// loopback), that keeps every mail in the `Mailbox` instead of delivering it. It speaks EHLO/HELO, AUTH PLAIN and
/// LOGIN (any credentials are accepted; only the fact is kept), MAIL, RCPT, DATA, RSET, NOOP and QUIT, and answers
/// a recipient with a queued fault code when there is one. Given a TLS context (tests do), it also offers STARTTLS.
struct SMTPCatcher: Service {
    let host: String
    let port: Int
    let mailbox: Mailbox
    let logger: Logger
    var tls: NIOSSLContext? = nil

    func run() async throws {
        let channel: any Channel
        do {
            channel = try await bind()
        } catch let error as IOError {
            throw ListenFailure(host: host, port: port, reason: "\(String(cString: strerror(error.errnoCode))) (errno \(error.errnoCode)) (SANDBOX_SMTP_PORT)")
        }
        mailbox.bound(to: channel.localAddress?.port ?? port)
        logger.info("SMTP catcher listening", metadata: ["smtp.port": "\(channel.localAddress?.port ?? port)"])
        try? await gracefulShutdown()
        try? await channel.close()
    }

    private func bind() async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [mailbox, tls] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPLineDecoder()))
                    try channel.pipeline.syncOperations.addHandler(SMTPSession(mailbox: mailbox, tls: tls))
                }
            }
            .bind(host: host, port: port).get()
    }
}

/// Lines ending in LF (a CR before it is dropped); a line longer than 64 KiB ends the session.
final class SMTPLineDecoder: ByteToMessageDecoder {
    typealias InboundOut = String

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let view = buffer.readableBytesView
        guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > 65_536 { throw LineTooLong() }
            return .needMoreData
        }
        var bytes = buffer.readBytes(length: newline - view.startIndex + 1) ?? []
        bytes.removeLast()
        if bytes.last == 13 { bytes.removeLast() }
        context.fireChannelRead(wrapInboundOut(String(decoding: bytes, as: UTF8.self)))
        return .continue
    }

    struct LineTooLong: Error {}
}

/// One client's conversation with the catcher.
final class SMTPSession: ChannelInboundHandler {
    typealias InboundIn = String
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        case command
        case authPlain
        case authLoginUser
        case authLoginPassword
        case data
    }

    static let maxSize = 1_048_576
    private let mailbox: Mailbox
    private let tls: NIOSSLContext?
    private var secure = false
    private var phase = Phase.command
    private var greeted = false
    private var authenticated = false
    private var from: String?
    private var recipients: [String] = []
    private var lines: [String] = []
    private var size = 0

    init(mailbox: Mailbox, tls: NIOSSLContext?) {
        self.mailbox = mailbox
        self.tls = tls
    }

    func channelActive(context: ChannelHandlerContext) {
        reply(context, "220 flowtalk-sandbox ESMTP catcher ready")
        context.fireChannelActive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        reply(context, "500 5.5.0 line too long")
        context.close(promise: nil)
    }

    private func reply(_ context: ChannelHandlerContext, _ lines: String...) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: lines.map { $0 + "\r\n" }.joined())), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let line = unwrapInboundIn(data)
        switch phase {
        case .data: return dataLine(context, line)
        case .authPlain, .authLoginPassword: return finishAuth(context, line.isEmpty || line == "*" ? nil : line)
        case .authLoginUser:
            phase = .authLoginPassword
            return reply(context, "334 UGFzc3dvcmQ6")
        case .command: break
        }
        let verb = line.prefix { $0 != " " }.uppercased()
        let argument = line.dropFirst(verb.count).trimmingCharacters(in: .whitespaces)
        switch verb {
        case "EHLO":
            greeted = true
            reset()
            let starttls = tls != nil && !secure ? "250-STARTTLS\r\n" : ""
            reply(context, "250-flowtalk-sandbox greets you", "250-8BITMIME", "\(starttls)250-SIZE \(Self.maxSize)", "250 AUTH PLAIN LOGIN")
        case "HELO":
            greeted = true
            reset()
            reply(context, "250 flowtalk-sandbox")
        case "AUTH":
            let words = argument.split(separator: " ")
            switch words.first?.uppercased() {
            case "PLAIN" where words.count == 2: finishAuth(context, String(words[1]))
            case "PLAIN":
                phase = .authPlain
                reply(context, "334 ")
            case "LOGIN":
                phase = .authLoginUser
                reply(context, "334 VXNlcm5hbWU6")
            default: reply(context, "504 5.5.4 unrecognised authentication type")
            }
        case "MAIL":
            guard greeted else { return reply(context, "503 5.5.1 EHLO first") }
            guard let address = Self.address(argument, prefix: "FROM:") else { return reply(context, "501 5.1.7 bad sender address syntax") }
            reset()
            from = address
            reply(context, "250 2.1.0 OK")
        case "RCPT":
            guard from != nil else { return reply(context, "503 5.5.1 MAIL first") }
            guard let address = Self.address(argument, prefix: "TO:"), !address.isEmpty else { return reply(context, "501 5.1.3 bad recipient address syntax") }
            if let code = mailbox.takeFault() { return reply(context, "\(code) sandbox fault") }
            recipients.append(address)
            reply(context, "250 2.1.5 OK")
        case "DATA":
            guard !recipients.isEmpty else { return reply(context, "503 5.5.1 RCPT first") }
            phase = .data
            lines = []
            size = 0
            reply(context, "354 end data with <CR><LF>.<CR><LF>")
        case "RSET":
            reset()
            reply(context, "250 2.0.0 OK")
        case "NOOP": reply(context, "250 2.0.0 OK")
        case "STARTTLS":
            guard let tls, !secure else { return reply(context, "454 4.7.0 TLS not available") }
            reply(context, "220 2.0.0 ready to start TLS")
            // Everything before TLS is forgotten (RFC 3207 §4.2): the client greets again.
            secure = true
            greeted = false
            reset()
            do {
                try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .first)
            } catch {
                context.close(promise: nil)
            }
        case "QUIT":
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) }
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "221 2.0.0 bye\r\n")), promise: written)
        default: reply(context, "502 5.5.2 command not recognised")
        }
    }

    private func finishAuth(_ context: ChannelHandlerContext, _ token: String?) {
        phase = .command
        guard let token else { return reply(context, "501 5.7.0 authentication cancelled") }
        // The credentials are not checked and not kept: only whether the client authenticated.
        authenticated = Data(base64Encoded: token) != nil
        reply(context, authenticated ? "235 2.7.0 authentication successful" : "501 5.5.2 cannot decode")
    }

    private func dataLine(_ context: ChannelHandlerContext, _ line: String) {
        guard line != "." else {
            phase = .command
            defer { reset() }
            guard size <= Self.maxSize else { return reply(context, "552 5.3.4 message too big") }
            let (subject, text) = MailParser.parse(lines: lines)
            mailbox.add(CaughtMail(
                from: from ?? "", to: recipients, subject: subject, text: text, authenticated: authenticated,
                receivedAt: ISO8601DateFormatter().string(from: Date())))
            return reply(context, "250 2.0.0 OK queued")
        }
        size += line.utf8.count + 2
        if size <= Self.maxSize { lines.append(line.hasPrefix(".") ? String(line.dropFirst()) : line) }
    }

    private func reset() {
        from = nil
        recipients = []
        lines = []
    }

    /// `FROM:<a@b> BODY=8BITMIME` → `a@b`.
    static func address(_ argument: String, prefix: String) -> String? {
        guard argument.uppercased().hasPrefix(prefix) else { return nil }
        let rest = argument.dropFirst(prefix.count).trimmingCharacters(in: .whitespaces)
        guard rest.hasPrefix("<"), let close = rest.firstIndex(of: ">") else { return nil }
        return String(rest[rest.index(after: rest.startIndex)..<close])
    }
}
