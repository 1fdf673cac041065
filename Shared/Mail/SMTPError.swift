/// Why a mail was not sent. Descriptions hold only what we produced (a stage, a reply code), never the server's text,
/// which may quote the address.
package enum SMTPError: Error, Equatable, CustomStringConvertible {
    /// The server answered `code` to `stage` (`greeting`, `EHLO`, `STARTTLS`, `AUTH`, `MAIL`, `RCPT`, `DATA`, `message`).
    case rejected(stage: String, code: Int)
    /// No reply (or no connection) within the time allowed.
    case timeout(stage: String)
    /// The connection could not be opened.
    case connectFailed
    /// The server closed the connection, or sent something that is not SMTP.
    case connectionLost(stage: String)
    /// `smtp://` needs STARTTLS and the server did not offer it: nothing is sent in the clear.
    case startTLSUnavailable
    /// The TLS handshake failed (for example the certificate is not trusted or not for this host).
    case tlsFailed
    /// The URL has credentials and the server offers neither AUTH PLAIN nor AUTH LOGIN.
    case authUnavailable
    /// An address is not a plain `local@domain` (a line break, a space, an angle bracket…).
    case invalidAddress
    /// The subject holds a line break or another control character.
    case invalidHeader

    /// 5xx replies and malformed mail never succeed on a retry; everything else may.
    package var isPermanent: Bool {
        switch self {
        case .rejected(_, let code): (500...599).contains(code)
        case .invalidAddress, .invalidHeader: true
        default: false
        }
    }

    /// The reply code, when the server gave one.
    package var replyCode: Int? {
        if case .rejected(_, let code) = self { return code }
        return nil
    }

    /// A short constant reason for logs, metrics and the job's last error.
    package var reason: String {
        switch self {
        case .rejected(let stage, let code): "smtp_\(code)_\(stage.lowercased())"
        case .timeout(let stage): "smtp_timeout_\(stage.lowercased())"
        case .connectFailed: "smtp_connect_failed"
        case .connectionLost(let stage): "smtp_connection_lost_\(stage.lowercased())"
        case .startTLSUnavailable: "smtp_starttls_unavailable"
        case .tlsFailed: "smtp_tls_failed"
        case .authUnavailable: "smtp_auth_unavailable"
        case .invalidAddress: "mail_invalid_address"
        case .invalidHeader: "mail_invalid_header"
        }
    }

    package var description: String { reason }
}
