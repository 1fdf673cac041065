import FlowtalkCore
import FlowtalkStore
import Foundation
import PostgresNIO
import Testing

@Suite struct DatabaseURLTests {
    @Test func tcpURL() throws {
        let configuration = try DatabaseURL.configuration(Secret("postgres://app:p%40ss@db.internal:6543/flowtalk?sslmode=require"))
        #expect(configuration.host == "db.internal")
        #expect(configuration.port == 6543)
        #expect(configuration.username == "app")
        #expect(configuration.password == "p@ss")
        #expect(configuration.database == "flowtalk")
    }

    @Test func unixSocketDirectoryBecomesTheSocketFile() throws {
        let configuration = try DatabaseURL.configuration(Secret("postgresql://flowtalk@/flowtalk?host=/run/postgresql&port=5433"))
        #expect(configuration.unixSocketPath == "/run/postgresql/.s.PGSQL.5433")
        #expect(configuration.host == nil)
        #expect(configuration.username == "flowtalk")
    }

    @Test func searchPathBecomesAStartupParameter() throws {
        let configuration = try DatabaseURL.configuration(Secret("postgres://u@127.0.0.1/db?search_path=tenant_a"))
        #expect(configuration.options.additionalStartupParameters.first?.0 == "search_path")
        #expect(configuration.options.additionalStartupParameters.first?.1 == "tenant_a")
        #expect(throws: ConfigurationError.self) { try DatabaseURL.configuration(Secret("postgres://u@127.0.0.1/db?search_path=x;drop")) }
    }

    @Test(arguments: ["mysql://u@h/db", "postgres://h/db", "not a url", "postgres://u:secret-pw@/db", "postgres://u@h:99999/db", "postgres://u@h/db?sslmode=bogus"])
    func malformedURLsNameTheVariableButNotThePassword(url: String) {
        do {
            _ = try DatabaseURL.configuration(Secret(url))
            Issue.record("accepted \(url)")
        } catch let error as ConfigurationError {
            #expect(error.description.contains("DATABASE_URL"))
            #expect(!error.description.contains("secret-pw"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}

/// `sslmode` as libpq reads it, with the defaults that keep a remote database off plaintext.
@Suite struct DatabaseTLSTests {
    func tls(_ query: String, host: String = "db.internal", mode: DeploymentMode = .production) throws -> DatabaseTLS {
        let parameters = Dictionary(
            query.split(separator: "&").map { $0.split(separator: "=", maxSplits: 1).map(String.init) }.map { ($0[0], $0.count > 1 ? $0[1] : "") },
            uniquingKeysWith: { _, last in last })
        return try DatabaseTLS(sslmode: parameters["sslmode"], rootCertificate: parameters["sslrootcert"], host: host, mode: mode)
    }

    @Test func aRemoteHostRequiresTLSByDefaultAndLoopbackDoesNot() throws {
        #expect(try tls("") == .require)
        #expect(try tls("", mode: .development) == .require)
        #expect(try tls("", host: "127.0.0.1") == .disable)
        #expect(try tls("", host: "localhost") == .disable)
        #expect(try tls("", host: "::1") == .disable)
        // A socket directory is no TCP host at all: the URL still parses, without TLS.
        let socket = try DatabaseURL.configuration(Secret("postgresql://flowtalk@/flowtalk?host=/run/postgresql"))
        #expect(socket.unixSocketPath != nil)
    }

    @Test func preferAndAllowAreRefusedForARemoteHostOutsideDevelopment() throws {
        for sslmode in ["prefer", "allow"] {
            #expect(throws: ConfigurationError.self) { try tls("sslmode=\(sslmode)") }
            #expect(throws: ConfigurationError.self) {
                try DatabaseURL.configuration(Secret("postgres://u:pw@db.internal/x?sslmode=\(sslmode)"))
            }
            #expect(try tls("sslmode=\(sslmode)", mode: .development) == .prefer)
            #expect(try tls("sslmode=\(sslmode)", host: "127.0.0.1") == .prefer)
        }
        // Plaintext to a remote host only when asked for by name.
        #expect(try tls("sslmode=disable") == .disable)
    }

    @Test func verifyFullAndVerifyCATakeARootCertificate() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("root-\(UUID()).pem").path
        try Data("-----BEGIN CERTIFICATE-----\n".utf8).write(to: URL(fileURLWithPath: root))
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(try tls("sslmode=verify-full&sslrootcert=\(root)") == .verifyFull(rootCertificate: root))
        #expect(try tls("sslmode=verify-full") == .verifyFull(rootCertificate: nil))
        #expect(try tls("sslmode=verify-full&sslrootcert=system") == .verifyFull(rootCertificate: nil))
        #expect(try tls("sslmode=verify-ca&sslrootcert=\(root)") == .verifyCA(rootCertificate: root))
        // libpq: require with a root certificate verifies the chain.
        #expect(try tls("sslmode=require&sslrootcert=\(root)") == .verifyCA(rootCertificate: root))
        let configuration = try DatabaseURL.configuration(Secret("postgres://u:pw@db.internal/x?sslmode=verify-full&sslrootcert=\(root)"))
        #expect(configuration.host == "db.internal")
    }

    @Test func anUnreadableRootCertificateOrUnknownModeIsAClearError() throws {
        for url in ["postgres://u:secret-pw@db.internal/x?sslmode=verify-full&sslrootcert=/nonexistent/root.pem", "postgres://u:secret-pw@db.internal/x?sslmode=maybe"] {
            do {
                _ = try DatabaseURL.configuration(Secret(url))
                Issue.record("accepted \(url)")
            } catch let error as ConfigurationError {
                #expect(error.description.contains("DATABASE_URL"))
                #expect(!error.description.contains("secret-pw"))
            }
        }
    }
}
