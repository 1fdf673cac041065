import FlowtalkCore
import Foundation

/// Where and how outgoing mail is sent: `SMTP_URL` (`smtps://` implicit TLS, `smtp://` with STARTTLS required, or
/// `smtp://…?tls=none` plain, in development and on loopback only), `SMTP_CA_FILE`, and `MAIL_FROM`.
package struct SMTPConfiguration: Sendable {
    /// How the connection is protected.
    package enum Security: String, Sendable, Equatable {
        /// `smtps://`: TLS from the first byte.
        case implicitTLS
        /// `smtp://`: plain until `STARTTLS`, which the server must offer (else nothing is sent).
        case startTLS
        /// `smtp://…?tls=none`: no TLS at all (development, loopback only).
        case none
    }

    package var host: String
    package var port: Int
    package var security: Security
    /// The user of `AUTH PLAIN`/`AUTH LOGIN` (percent-decoded from the URL); nil: no authentication.
    package var username: String?
    package var password: Secret<String>?
    /// `SMTP_CA_FILE`: a PEM file of trust roots used instead of the system's.
    package var caFile: String?
    /// The sender, `MAIL_FROM`.
    package var from: MailAddress
    package var connectTimeout: Duration = .seconds(10)
    /// How long the server may take over each reply.
    package var replyTimeout: Duration = .seconds(60)

    package init(host: String, port: Int, security: Security, username: String? = nil, password: Secret<String>? = nil, from: MailAddress) {
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.from = from
    }

    /// The default in development: the sandbox's SMTP catcher on its default port.
    package static let developmentURL = "smtp://127.0.0.1:8091?tls=none"
    /// The default sender in development.
    package static let developmentFrom = "Flowtalk <flowtalk@localhost>"

    /// Reads `SMTP_URL`, `SMTP_CA_FILE` and `MAIL_FROM` under the rules of `mode`. Outside development both are required
    /// and TLS is mandatory; in development they default to the sandbox's catcher, and plain SMTP is allowed on loopback.
    /// Errors name the variable, never its value (the URL holds a password).
    package init(environment: ConfigEnvironment, mode: DeploymentMode) throws {
        let url: String
        let fromText: String
        if mode.isDevelopment {
            url = environment.optional("SMTP_URL") ?? Self.developmentURL
            fromText = environment.optional("MAIL_FROM") ?? Self.developmentFrom
        } else {
            url = try environment.required("SMTP_URL")
            fromText = try environment.required("MAIL_FROM")
        }
        guard let from = try? MailAddress(parsing: fromText) else {
            throw ConfigurationError.malformed("MAIL_FROM", "expected an address (no@example.com) or a name and an address (Shop <no@example.com>)")
        }
        try self.init(url: url, from: from, mode: mode)
        if let caFile = environment.optional("SMTP_CA_FILE") {
            guard FileManager.default.isReadableFile(atPath: caFile) else {
                throw ConfigurationError.malformed("SMTP_CA_FILE", "expected a readable PEM file of trust roots")
            }
            self.caFile = caFile
        }
    }

    /// Parses an `SMTP_URL` (see `init(environment:mode:)`).
    package init(url text: String, from: MailAddress, mode: DeploymentMode) throws {
        func malformed(_ expected: String) -> ConfigurationError { .malformed("SMTP_URL", expected) }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty
        else { throw malformed("expected smtps://user:password@host:465 or smtp://user:password@host:587") }
        let query = components.queryItems ?? []
        guard query.allSatisfy({ $0.name == "tls" }), query.count <= 1 else { throw malformed("the only query parameter is tls=none") }
        let plain: Bool
        switch query.first?.value?.lowercased() {
        case nil: plain = false
        case "none": plain = true
        default: throw malformed("the only query parameter is tls=none")
        }
        switch (scheme, plain) {
        case ("smtps", false): security = .implicitTLS
        case ("smtp", false): security = .startTLS
        case ("smtp", true): security = .none
        case ("smtps", true): throw malformed("tls=none goes with smtp://, not smtps://")
        default: throw malformed("expected the scheme smtps:// or smtp://")
        }
        let bareHost = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if security == .none && !(mode.isDevelopment && Self.isLoopback(bareHost)) {
            throw malformed("plain SMTP (tls=none) is allowed only with FLOWTALK_ENV=development and a loopback host; use smtps:// or smtp:// with STARTTLS")
        }
        self.host = bareHost
        let port = components.port ?? (security == .implicitTLS ? 465 : 587)
        guard (1...65535).contains(port) else { throw malformed("expected a port in 1...65535") }
        self.port = port
        if let user = components.user, !user.isEmpty {
            guard let password = components.password, !password.isEmpty else { throw malformed("a user needs a password (smtp://user:password@host)") }
            self.username = user
            self.password = Secret(password)
        } else if components.password != nil {
            throw malformed("a password needs a user (smtp://user:password@host)")
        }
        guard components.path.isEmpty || components.path == "/" else { throw malformed("expected no path after the host") }
        self.from = from
    }

    /// `localhost`, 127.0.0.0/8 or `::1`.
    package static func isLoopback(_ host: String) -> Bool {
        let lower = host.lowercased()
        if lower == "localhost" || lower == "::1" { return true }
        let parts = lower.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}
