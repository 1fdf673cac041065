import FlowtalkCore
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Mail
import NIOCore
import Testing

@testable import SandboxService

/// The SMTP client against the sandbox's SMTP catcher, both real, over loopback.
@Suite struct SMTPClientTests {
    struct Messages: Decodable { let messages: [CaughtMail] }

    /// Runs `body` with a live sandbox (HTTP on a free port, the catcher on another) and a client configured for its catcher.
    static func withCatcher(user: String? = "mailer@shop.example", _ body: @escaping @Sendable (SMTPClient, any TestClientProtocol) async throws -> Void)
        async throws
    {
        let mailbox = Mailbox()
        var configuration = SandboxConfiguration(appSecret: Secret("s"), ingestURL: "http://127.0.0.1:9", port: 0)
        configuration.logLevel = "error"
        let app = try await buildApplication(configuration: configuration, logger: Logger(label: "sandbox-test"), mailbox: mailbox)
        try await app.test(.live) { client in
            let port = try await mailbox.port()
            let credentials = user.map { "\($0.replacingOccurrences(of: "@", with: "%40")):s3cr%3At@" } ?? ""
            let smtp = try SMTPConfiguration(
                url: "smtp://\(credentials)127.0.0.1:\(port)?tls=none", from: MailAddress(parsing: "Flowtalk <no-reply@flowtalk.example>"), mode: .development)
            try await body(try SMTPClient(configuration: smtp), client)
        }
    }

    static func received(_ client: some TestClientProtocol, to: String? = nil) async throws -> [CaughtMail] {
        let response = try await client.execute(uri: "/sandbox/mail" + (to.map { "?to=\($0)" } ?? ""), method: .get)
        #expect(response.status == .ok)
        return try JSONDecoder().decode(Messages.self, from: Data(String(buffer: response.body).utf8)).messages
    }

    static let logger = Logger(label: "smtp-test", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test func aMailWithANonASCIISubjectADotLineAndALongLineArrivesIntact() async throws {
        try await Self.withCatcher { smtp, client in
            let subject = "Réinitialisez votre mot de passe Flowtalk — lien valable 30 minutes ✓ 日本語の件名も大丈夫"
            let long = String(repeating: "0123456789abcdef=", count: 40)
            let text = """
                Bonjour,

                .a line that starts with a dot
                ..and one with two
                .
                \(long)
                trailing spaces stay   
                https://app.example/reset?token=abc=def&x=1
                Ünïcödé everywhere: ✓ 🚀
                """
            try await smtp.send(try smtp.message(to: "owner@shop.example", subject: subject, text: text), logger: Self.logger)
            let mails = try await Self.received(client)
            #expect(mails.count == 1)
            let mail = try #require(mails.first)
            #expect(mail.subject == subject)
            #expect(mail.text == text)
            #expect(mail.from == "no-reply@flowtalk.example")
            #expect(mail.to == ["owner@shop.example"])
            #expect(mail.authenticated)
        }
    }

    @Test func theWireFormIsSevenBitWithShortLinesAndTheStandardHeaders() throws {
        let message = try MailMessage(
            from: MailAddress(parsing: "Flowtalk <no-reply@flowtalk.example>"), to: MailAddress(address: "owner@shop.example"),
            subject: "Vérifiez votre adresse", text: String(repeating: "é", count: 200) + "\n.dot")
        let lines = message.lines
        #expect(lines.allSatisfy { $0.utf8.count <= 78 && $0.unicodeScalars.allSatisfy(\.isASCII) })
        for header in ["From: \"Flowtalk\" <no-reply@flowtalk.example>", "To: <owner@shop.example>", "Subject: =?UTF-8?B?", "Date: ", "Message-ID: <",
                       "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable"] {
            #expect(lines.contains { $0.hasPrefix(header) }, "\(header)")
        }
    }

    @Test func aFourHundredReplyIsTransientAndAFiveHundredPermanent() async throws {
        try await Self.withCatcher { smtp, client in
            for (code, permanent) in [(451, false), (550, true)] {
                let fault = try await client.execute(
                    uri: "/sandbox/mail/faults", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: #"{"code":\#(code)}"#))
                #expect(fault.status == .noContent)
                let error = await #expect(throws: SMTPError.self) {
                    try await smtp.send(try smtp.message(to: "owner@shop.example", subject: "Hi", text: "Hi"), logger: Self.logger)
                }
                #expect(error == .rejected(stage: "RCPT", code: code))
                #expect(error?.isPermanent == permanent)
            }
            let refused = try await Self.received(client)
            #expect(refused.isEmpty)
            // The faults are used up: the next mail goes through.
            try await smtp.send(try smtp.message(to: "owner@shop.example", subject: "Hi", text: "Hi"), logger: Self.logger)
            let received = try await Self.received(client)
            #expect(received.count == 1)
        }
    }

    @Test func theCatcherFiltersByRecipientEmptiesOnDeleteAndRefusesFaultsThatAreNotSMTPErrors() async throws {
        try await Self.withCatcher { smtp, client in
            for to in ["first@shop.example", "second@shop.example"] {
                try await smtp.send(try smtp.message(to: to, subject: "For \(to)", text: "Hi"), logger: Self.logger)
            }
            let second = try await Self.received(client, to: "SECOND@shop.example")
            #expect(second.map(\.subject) == ["For second@shop.example"])
            let all = try await Self.received(client)
            #expect(all.map(\.subject) == ["For first@shop.example", "For second@shop.example"])
            for body in [#"{"code":250}"#, #"{"code":700}"#, #"{"code":451,"count":0}"#] {
                let response = try await client.execute(
                    uri: "/sandbox/mail/faults", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body))
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("invalid_fault"))
            }
            let cleared = try await client.execute(uri: "/sandbox/mail", method: .delete)
            #expect(String(buffer: cleared.body) == #"{"cleared":2}"#)
            let left = try await Self.received(client)
            #expect(left.isEmpty)
        }
    }

    @Test func aLineBreakInAnAddressOrTheSubjectIsRefusedAndNothingIsSent() async throws {
        try await Self.withCatcher { smtp, client in
            for address in ["owner@shop.example\r\nRCPT TO:<victim@else.example>", "owner@shop.example>\nBcc: x@evil.example", "a b@shop.example",
                            "<owner@shop.example>", "owner@shop.example\0", "nobody", "owner@shop@example"] {
                #expect(throws: SMTPError.invalidAddress) { try smtp.message(to: address, subject: "Hi", text: "Hi") }
            }
            for subject in ["Hi\r\nBcc: x@evil.example", "Hi\nX-Injected: 1", "Hi\rthere"] {
                #expect(throws: SMTPError.invalidHeader) { try smtp.message(to: "owner@shop.example", subject: subject, text: "Hi") }
            }
            let received = try await Self.received(client)
            #expect(received.isEmpty)
        }
    }

    @Test func smtpWithoutTLSOnOfferSendsNothing() async throws {
        try await Self.withCatcher(user: nil) { smtp, client in
            // The same catcher, but configured as smtp:// (STARTTLS required): it offers no STARTTLS, so nothing goes in the clear.
            var configuration = smtp.configuration
            configuration.security = .startTLS
            let requiring = try SMTPClient(configuration: configuration)
            await #expect(throws: SMTPError.startTLSUnavailable) {
                try await requiring.send(try requiring.message(to: "owner@shop.example", subject: "Hi", text: "secret link"), logger: Self.logger)
            }
            let received = try await Self.received(client)
            #expect(received.isEmpty)
        }
    }

    @Test func aServerThatNeverAnswersIsATransientTimeout() async throws {
        let silent = try SilentServer()
        defer { silent.close() }
        var configuration = try SMTPConfiguration(
            url: "smtp://127.0.0.1:\(silent.port)?tls=none", from: MailAddress(address: "no-reply@flowtalk.example"), mode: .development)
        configuration.replyTimeout = .seconds(1)
        let smtp = try SMTPClient(configuration: configuration)
        let error = await #expect(throws: SMTPError.self) {
            try await smtp.send(try smtp.message(to: "owner@shop.example", subject: "Hi", text: "Hi"), logger: Self.logger)
        }
        #expect(error == .timeout(stage: "greeting"))
        #expect(error?.isPermanent == false)
    }

    @Test func nothingListeningIsATransientConnectFailure() async throws {
        let smtp = try SMTPClient(configuration: SMTPConfiguration(
            url: "smtp://127.0.0.1:9?tls=none", from: MailAddress(address: "no-reply@flowtalk.example"), mode: .development))
        let error = await #expect(throws: SMTPError.self) {
            try await smtp.send(try smtp.message(to: "owner@shop.example", subject: "Hi", text: "Hi"), logger: Self.logger)
        }
        #expect(error == .connectFailed)
        #expect(error?.isPermanent == false)
    }
}

/// A socket that accepts connections (the kernel does) and never says a word.
final class SilentServer: @unchecked Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && listen(descriptor, 4) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard bound else {
            Foundation.close(descriptor)
            throw CocoaError(.fileWriteUnknown)
        }
        fd = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { Foundation.close(fd) }
}
