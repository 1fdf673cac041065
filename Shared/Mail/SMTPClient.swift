import FlowtalkCore
import Foundation
import Logging
import NIOCore
import NIOSSL

/// Sends mail over SMTP (RFC 5321): EHLO, STARTTLS or implicit TLS, AUTH PLAIN or LOGIN, MAIL FROM, RCPT TO, DATA
/// (dot-stuffed, CRLF), QUIT. Every reply code is checked, and every wait is bounded. Certificates are checked against
/// the system's trust store (or `SMTP_CA_FILE`).
package struct SMTPClient: Sendable {
    package let configuration: SMTPConfiguration
    private let tls: NIOSSLContext?

    package init(configuration: SMTPConfiguration) throws {
        self.configuration = configuration
        guard configuration.security != .none else {
            tls = nil
            return
        }
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        tlsConfiguration.minimumTLSVersion = .tlsv12
        if let caFile = configuration.caFile { tlsConfiguration.trustRoots = .file(caFile) }
        tls = try NIOSSLContext(configuration: tlsConfiguration)
    }

    /// A message from the configured sender.
    package func message(to: String, subject: String, text: String) throws -> MailMessage {
        try MailMessage(from: configuration.from, to: MailAddress(address: to), subject: subject, text: text)
    }

    /// Sends `message`; throws `SMTPError` (`isPermanent` tells whether a retry can help).
    package func send(_ message: MailMessage, logger: Logger) async throws {
        let serverHostname = Self.isIPAddress(configuration.host) ? nil : configuration.host
        let connection = try await SMTPConnection.open(
            host: configuration.host, port: configuration.port, tls: configuration.security == .implicitTLS ? tls : nil,
            serverHostname: serverHostname, connectTimeout: configuration.connectTimeout, replyTimeout: configuration.replyTimeout)
        do {
            try await converse(connection, message, serverHostname: serverHostname, logger: logger)
            await connection.close()
        } catch {
            await connection.close()
            throw error
        }
    }

    private func converse(_ connection: SMTPConnection, _ message: MailMessage, serverHostname: String?, logger: Logger) async throws {
        try await connection.expect("greeting", [220])
        var extensions = try await ehlo(connection)
        if configuration.security == .startTLS {
            guard extensions.contains(where: { $0.keyword == "STARTTLS" }), let tls else { throw SMTPError.startTLSUnavailable }
            try await connection.command("STARTTLS", stage: "STARTTLS", expect: [220])
            try await connection.startTLS(tls, serverHostname: serverHostname)
            // What the server said before TLS is forgotten (RFC 3207 §4.2).
            extensions = try await ehlo(connection)
        }
        if let username = configuration.username, let password = configuration.password {
            try await authenticate(connection, extensions: extensions, username: username, password: password.value)
        }
        try await connection.command("MAIL FROM:<\(message.from.address)>", stage: "MAIL", expect: [250])
        try await connection.command("RCPT TO:<\(message.to.address)>", stage: "RCPT", expect: [250, 251])
        try await connection.command("DATA", stage: "DATA", expect: [354])
        try await connection.write(Self.dotStuffed(message.lines))
        try await connection.expect("message", [250])
        logger.debug("Mail accepted by the SMTP server", metadata: ["smtp.code": "250"])
        // The mail is accepted; a server that drops the line instead of saying goodbye changes nothing.
        _ = try? await connection.command("QUIT", stage: "QUIT", expect: [221])
    }

    struct Extension {
        let keyword: String
        let parameters: [String]
    }

    private func ehlo(_ connection: SMTPConnection) async throws -> [Extension] {
        let reply = try await connection.command("EHLO \(configuration.from.domain)", stage: "EHLO", expect: [250])
        return reply.lines.dropFirst().map { line in
            let words = line.split(separator: " ").map(String.init)
            return Extension(keyword: words.first?.uppercased() ?? "", parameters: words.dropFirst().map { $0.uppercased() })
        }
    }

    private func authenticate(_ connection: SMTPConnection, extensions: [Extension], username: String, password: String) async throws {
        let mechanisms = Set(extensions.filter { $0.keyword == "AUTH" }.flatMap(\.parameters))
        if mechanisms.contains("PLAIN") {
            let token = Data(([0] + Array(username.utf8) + [0] + Array(password.utf8))).base64EncodedString()
            try await connection.command("AUTH PLAIN \(token)", stage: "AUTH", expect: [235])
        } else if mechanisms.contains("LOGIN") {
            try await connection.command("AUTH LOGIN", stage: "AUTH", expect: [334])
            try await connection.command(Data(username.utf8).base64EncodedString(), stage: "AUTH", expect: [334])
            try await connection.command(Data(password.utf8).base64EncodedString(), stage: "AUTH", expect: [235])
        } else {
            throw SMTPError.authUnavailable
        }
    }

    /// The DATA section: each line with CRLF, a leading "." doubled (RFC 5321 §4.5.2), then the lone "." that ends it.
    static func dotStuffed(_ lines: [String]) -> [UInt8] {
        var bytes: [UInt8] = []
        for line in lines {
            if line.hasPrefix(".") { bytes.append(UInt8(ascii: ".")) }
            bytes += Array(line.utf8) + [13, 10]
        }
        return bytes + Array(".\r\n".utf8)
    }

    static func isIPAddress(_ host: String) -> Bool {
        host.contains(":") || host.split(separator: ".").count == 4 && host.split(separator: ".").allSatisfy { UInt8($0) != nil }
    }
}
