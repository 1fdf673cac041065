import AsyncHTTPClient
import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import FlowtalkTesting
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import Testing

/// Outgoing mail over the real binaries: a `MailJob` in the queue becomes a mail in the sandbox's SMTP catcher, sent
/// by flowtalk-auth's mail worker; and auth refuses to start without a mail server it may use.
@Suite(.serialized) struct MailDeliveryTests {
    struct Messages: Decodable {
        struct Mail: Decodable {
            let from: String
            let to: [String]
            let subject: String
            let text: String
            let authenticated: Bool
        }
        let messages: [Mail]
    }

    @Test func aQueuedMailIsSentByAuthsWorkerAndRetriedAfterATemporaryRefusal() async throws {
        try await TestDatabase.withMigrated { database, client in
            let url = database.url + (database.url.contains("?") ? "&" : "?") + "search_path=\(database.schema)"
            let (auth, sandbox, smtp) = (try FreePorts.next(), try FreePorts.next(), try FreePorts.next())
            let sandboxURL = "http://127.0.0.1:\(sandbox)"
            let (vault, keyRing) = TokenVault.testing()
            let common = [
                "DATABASE_URL": url, "HOST": "127.0.0.1", "META_APP_ID": "e2e-app", "META_APP_SECRET": "e2e-secret", "TOKEN_ENCRYPTION_KEYS": keyRing,
                "PASSWORD_PEPPER": "e2e-pepper", "BCRYPT_COST": "10", "FLOWTALK_ENV": "development", "SANDBOX_SMTP_PORT": "\(smtp)",
                "SMTP_URL": "smtp://mailer:mail-password-canary@127.0.0.1:\(smtp)?tls=none", "MAIL_FROM": "Flowtalk <no-reply@flowtalk.example>",
            ]
            let processes = [
                try ServiceProcess("flowtalk-sandbox", environment: common.merging(["PORT": "\(sandbox)"]) { $1 }),
                try ServiceProcess("flowtalk-auth", environment: common.merging(["PORT": "\(auth)"]) { $1 }),
            ]
            do {
                try await waitUntilReady(sandboxURL)
                try await waitUntilReady("http://127.0.0.1:\(auth)")
                // The first try is refused for now (451): the queue's backoff brings it back, and the second goes through.
                var fault = HTTPClientRequest(url: "\(sandboxURL)/sandbox/mail/faults")
                fault.method = .POST
                fault.body = .bytes(ByteBuffer(string: #"{"code":451}"#))
                #expect(try await HTTPClient.shared.execute(fault, timeout: .seconds(5)).status == .noContent)

                let text = "Open this link to choose a new password:\nhttp://127.0.0.1/reset?token=mail-body-canary\n.\nFlowtalk"
                let mail = OutgoingMail(to: "owner@shop.example", subject: "Réinitialiser le mot de passe", text: text)
                let queue = JobQueue(client: client, logger: .quiet("queue"))
                #expect(try await queue.enqueue([try MailJob.make(mail, vault: vault)]) == 1)

                var received: [Messages.Mail] = []
                try await eventually("the mail in the sandbox", timeout: .seconds(60), every: .milliseconds(200)) {
                    let (status, body) = try await RealBinariesTests.get("\(sandboxURL)/sandbox/mail?to=owner@shop.example")
                    received = status == .ok ? try decodeJSON(Messages.self, from: body).messages : []
                    return !received.isEmpty
                }
                #expect(received.count == 1)
                #expect(received.first?.subject == mail.subject && received.first?.text == text)
                #expect(received.first?.from == "no-reply@flowtalk.example" && received.first?.authenticated == true)
                // Sent: the job is gone from the queue.
                try await eventually("the job to be completed") {
                    var left = -1
                    for try await n in try await client.query("SELECT count(*)::int FROM jobs WHERE kind = 'mail.send'").decode(Int.self) { left = n }
                    return left == 0
                }
                let (_, metrics) = try await RealBinariesTests.get("http://127.0.0.1:\(auth)/metrics")
                #expect(metrics.contains("flowtalk_mail_sent_total 1"))
                #expect(metrics.contains(#"flowtalk_mail_failed_total{reason="transient"} 1"#))
            } catch {
                for process in processes { _ = try? await process.stop() }
                throw error
            }
            for process in processes {
                #expect(try await process.stop() == 0)
                let log = process.output
                #expect(!log.contains("owner@shop.example") && !log.contains("mail-body-canary") && !log.contains("mail-password-canary"), "\(process.name)")
            }
        }
    }

    /// Outside development, auth needs a mail server it reaches over TLS: without one it exits at once, with one line.
    /// (Everything else is set for production: https addresses behind a trusted proxy.)
    @Test(arguments: [
        ([:], "missing required environment variable SMTP_URL"),
        (["SMTP_URL": "smtp://u:hunter2@127.0.0.1:2525?tls=none", "MAIL_FROM": "no-reply@shop.example"],
         "environment variable SMTP_URL is malformed: plain SMTP (tls=none) is allowed only with FLOWTALK_ENV=development"),
        (["SMTP_URL": "smtps://u:hunter2@smtp.shop.example"], "missing required environment variable MAIL_FROM"),
    ])
    func authWithoutAUsableMailServerRefusesToStart(_ extra: [String: String], _ expected: String) async throws {
        let process = try ServiceProcess("flowtalk-auth", environment: extra.merging([
            "DATABASE_URL": "postgres://u@127.0.0.1:1/db", "HOST": "127.0.0.1", "PORT": "\(try FreePorts.next())", "META_APP_SECRET": "s",
            "TOKEN_ENCRYPTION_KEYS": TokenVault.testing().keyRing, "PASSWORD_PEPPER": "p", "META_APP_ID": "a", "FLOWTALK_ENV": "production",
            "PUBLIC_URL": "https://app.shop.example", "ANALYTICS_URL": "https://stats.shop.example", "TRUSTED_PROXIES": "127.0.0.1",
        ]) { a, _ in a })
        let status = try await process.exitStatus()
        let output = process.output
        #expect(status == 1)
        #expect(output.hasPrefix("flowtalk-auth: configuration error: \(expected)"), "\(output)")
        #expect(output.split(separator: "\n").count == 1 && !output.contains("hunter2"))
    }
}
