import FlowtalkCore
import Mail
import Testing

/// `SMTP_URL` and `MAIL_FROM`: TLS everywhere, plain SMTP only in development and on loopback, errors that name the
/// variable and never show the password.
@Suite struct SMTPConfigurationTests {
    static let from = "Shop <no-reply@shop.example>"

    static func read(_ values: [String: String]) throws -> SMTPConfiguration {
        let environment = ConfigEnvironment(values)
        return try SMTPConfiguration(environment: environment, mode: try environment.deploymentMode())
    }

    /// The message of the configuration error (the line the service prints), or nil when it was accepted.
    static func refusal(_ values: [String: String]) -> String? {
        do {
            _ = try read(values)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func smtpsAndSmtpWithSTARTTLSAreAcceptedWithPercentDecodedCredentials() throws {
        let implicit = try Self.read(["SMTP_URL": "smtps://mailer%40shop.example:p%3Ass%2Fw0rd@smtp.shop.example", "MAIL_FROM": Self.from])
        #expect(implicit.security == .implicitTLS && implicit.host == "smtp.shop.example" && implicit.port == 465)
        #expect(implicit.username == "mailer@shop.example" && implicit.password?.value == "p:ss/w0rd")
        #expect(try implicit.from == MailAddress(address: "no-reply@shop.example", displayName: "Shop"))
        let startTLS = try Self.read(["SMTP_URL": "smtp://smtp.shop.example:2587", "MAIL_FROM": "no-reply@shop.example"])
        #expect(startTLS.security == .startTLS && startTLS.port == 2587 && startTLS.username == nil)
        #expect(try Self.read(["SMTP_URL": "smtp://smtp.shop.example", "MAIL_FROM": Self.from]).port == 587)
    }

    @Test func outsideDevelopmentSMTPURLAndMAILFROMAreRequired() {
        #expect(Self.refusal(["MAIL_FROM": Self.from]) == "missing required environment variable SMTP_URL")
        #expect(Self.refusal(["SMTP_URL": "smtps://smtp.shop.example", "FLOWTALK_ENV": "production"]) == "missing required environment variable MAIL_FROM")
    }

    @Test func inDevelopmentTheSandboxCatcherIsTheDefault() throws {
        let configuration = try Self.read(["FLOWTALK_ENV": "development"])
        #expect(configuration.security == .none && configuration.host == "127.0.0.1" && configuration.port == 8091)
        #expect(configuration.from.address == "flowtalk@localhost")
    }

    @Test func plainSMTPOnlyInDevelopmentAndOnLoopback() throws {
        let plain = "smtp://dev:devpass@127.0.0.1:2525?tls=none"
        #expect(try Self.read(["SMTP_URL": plain, "FLOWTALK_ENV": "development"]).security == .none)
        #expect(try Self.read(["SMTP_URL": "smtp://[::1]:2525?tls=none", "FLOWTALK_ENV": "development"]).host == "::1")
        #expect(try Self.read(["SMTP_URL": "smtp://localhost:2525?tls=none", "FLOWTALK_ENV": "development"]).security == .none)
        for refused in [
            ["SMTP_URL": plain, "MAIL_FROM": Self.from],  // production by default
            ["SMTP_URL": plain, "MAIL_FROM": Self.from, "FLOWTALK_ENV": "production"],
            ["SMTP_URL": "smtp://mail.shop.example:25?tls=none", "FLOWTALK_ENV": "development"],  // not loopback
            ["SMTP_URL": "smtp://10.0.0.5:25?tls=none", "FLOWTALK_ENV": "development"],
        ] {
            let message = try #require(Self.refusal(refused))
            #expect(message.hasPrefix("environment variable SMTP_URL is malformed: plain SMTP (tls=none) is allowed only with FLOWTALK_ENV=development"))
            #expect(!message.contains("devpass"))
        }
    }

    @Test func malformedURLsAreNamedWithoutTheirPassword() {
        for url in [
            "http://user:hunter2@smtp.shop.example", "smtps://user:hunter2@smtp.shop.example?tls=none", "smtps://user:hunter2@smtp.shop.example?tls=maybe",
            "smtps://user:hunter2@smtp.shop.example?starttls=no", "smtps://user@smtp.shop.example", "smtps://:hunter2@smtp.shop.example",
            "smtps://user:hunter2@smtp.shop.example:0", "smtps://user:hunter2@smtp.shop.example/path", "smtps://", "not a url",
        ] {
            let message = Self.refusal(["SMTP_URL": url, "MAIL_FROM": Self.from])
            #expect(message?.hasPrefix("environment variable SMTP_URL is malformed") == true, "\(url)")
            #expect(message?.contains("hunter2") == false)
        }
    }

    @Test func mailFromMustBeOnePlainAddress() {
        for from in ["nobody", "a@b@c", "Shop <no-reply@shop.example", "no-reply@shop.example\r\nBcc: x@evil.example", "\"Sh\"op\" <a@b.example>"] {
            #expect(Self.refusal(["SMTP_URL": "smtps://smtp.shop.example", "MAIL_FROM": from])?.hasPrefix("environment variable MAIL_FROM is malformed") == true, "\(from)")
        }
        #expect(Self.refusal(["SMTP_URL": "smtps://smtp.shop.example", "MAIL_FROM": "\"Café Shop\" <no-reply@shop.example>"]) == nil)
    }

    @Test func aCAFileMustBeReadable() {
        let message = Self.refusal(["SMTP_URL": "smtps://smtp.shop.example", "MAIL_FROM": Self.from, "SMTP_CA_FILE": "/nonexistent/ca.pem"])
        #expect(message == "environment variable SMTP_CA_FILE is malformed: expected a readable PEM file of trust roots")
    }
}
