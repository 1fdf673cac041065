import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import Logging
import Mail
import Metrics

/// Something that delivers a message (the SMTP client; tests may stand in).
protocol MailTransport: Sendable {
    /// The configured sender.
    var from: MailAddress { get }
    /// Sends `message`; throws `SMTPError` when it was not accepted.
    func send(_ message: MailMessage, logger: Logger) async throws
}

extension SMTPClient: MailTransport {
    var from: MailAddress { configuration.from }
}

/// auth's mail worker: the handler of `MailJob.kind`. It opens the sealed payload, sends the mail, and lets the queue
/// retry with its backoff when the failure may pass (a 4xx reply, a lost connection, a timeout); a 5xx reply or a mail
/// that cannot be written is kept as dead at once. Logs carry the job id and the reply code, never an address, a
/// subject or a body.
struct MailSender: Sendable {
    let transport: any MailTransport
    let vault: TokenVault
    let metrics: any MetricsFactory

    var handlers: [String: JobHandler] {
        [MailJob.kind: { job, logger in try await send(job, logger: logger) }]
    }

    func send(_ job: ClaimedJob, logger: Logger) async throws {
        let mail: OutgoingMail
        do {
            mail = try MailJob.mail(job.payload, vault: vault)
        } catch {
            count(failed: "unreadable")
            logger.error("Mail job does not open with the token vault", metadata: ["mail.reason": "unreadable"])
            throw JobFailure.permanent("mail_unreadable")
        }
        do {
            let message = try MailMessage(from: transport.from, to: MailAddress(address: mail.to), subject: mail.subject, text: mail.text)
            try await transport.send(message, logger: logger)
        } catch let error as SMTPError {
            var metadata: Logger.Metadata = ["mail.reason": "\(error.reason)", "job.attempt": "\(job.attempt)"]
            if let code = error.replyCode { metadata["smtp.code"] = "\(code)" }
            if error.isPermanent {
                count(failed: "permanent")
                logger.error("Mail refused for good", metadata: metadata)
                throw JobFailure.permanent(error.reason)
            }
            count(failed: "transient")
            logger.warning("Mail not sent; will retry", metadata: metadata)
            throw JobFailure.retryAfter(Backoff.delay(attempt: Int(job.attempt)), error.reason)
        }
        Counter(label: "flowtalk_mail_sent_total", factory: metrics).increment()
        logger.info("Mail sent", metadata: ["smtp.code": "250"])
    }

    private func count(failed reason: String) {
        Counter(label: "flowtalk_mail_failed_total", dimensions: [("reason", reason)], factory: metrics).increment()
    }
}
