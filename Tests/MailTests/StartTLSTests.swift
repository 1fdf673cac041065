import Crypto
import FlowtalkCore
import Foundation
import Logging
import Mail
import NIOSSL
import SwiftASN1
import Testing
import X509

@testable import SandboxService

/// STARTTLS against a catcher that offers it with a certificate made here: the mail goes through when the certificate
/// is trusted (`SMTP_CA_FILE`), and nothing is sent when it is not.
@Suite struct StartTLSTests {
    /// A self-signed certificate for `localhost`, as PEM, and a server TLS context holding it.
    static func certificate() throws -> (pem: String, server: NIOSSLContext) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("localhost") }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: Date().addingTimeInterval(-3600), notValidAfter: Date().addingTimeInterval(3600), issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                SubjectAlternativeNames([.dnsName("localhost")])
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
        let pem = try certificate.serializeAsPEM().pemString
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(pem.utf8), format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.pemRepresentation.utf8), format: .pem)))
        return (pem, try NIOSSLContext(configuration: configuration))
    }

    /// Runs a STARTTLS-capable catcher on a free port for `body`.
    static func withTLSCatcher(_ body: @Sendable (Int, Mailbox, String) async throws -> Void) async throws {
        let (pem, server) = try certificate()
        let mailbox = Mailbox()
        let catcher = SMTPCatcher(host: "127.0.0.1", port: 0, mailbox: mailbox, logger: SMTPClientTests.logger, tls: server)
        let running = Task { try await catcher.run() }
        defer { running.cancel() }
        let caFile = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-ca-\(UUID().uuidString).pem").path
        try pem.write(toFile: caFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: caFile) }
        try await body(try await mailbox.port(), mailbox, caFile)
    }

    @Test func aTrustedCertificateCarriesTheMailOverSTARTTLS() async throws {
        try await Self.withTLSCatcher { port, mailbox, caFile in
            var configuration = try SMTPConfiguration(
                url: "smtp://mailer:s3cret@localhost:\(port)", from: MailAddress(address: "no-reply@flowtalk.example"), mode: .production)
            configuration.caFile = caFile
            let smtp = try SMTPClient(configuration: configuration)
            try await smtp.send(try smtp.message(to: "owner@shop.example", subject: "Over TLS", text: "token=abc"), logger: SMTPClientTests.logger)
            let mails = mailbox.mails()
            #expect(mails.map(\.subject) == ["Over TLS"])
            #expect(mails.first?.text == "token=abc" && mails.first?.authenticated == true)
        }
    }

    @Test func anUntrustedCertificateStopsTheMailBeforeAnythingIsSent() async throws {
        try await Self.withTLSCatcher { port, mailbox, _ in
            // The system's trust store does not know the certificate made above.
            let smtp = try SMTPClient(configuration: SMTPConfiguration(
                url: "smtp://mailer:s3cret@localhost:\(port)", from: MailAddress(address: "no-reply@flowtalk.example"), mode: .production))
            await #expect(throws: SMTPError.tlsFailed) {
                try await smtp.send(try smtp.message(to: "owner@shop.example", subject: "Over TLS", text: "token=abc"), logger: SMTPClientTests.logger)
            }
            #expect(mailbox.mails().isEmpty)
        }
    }
}
