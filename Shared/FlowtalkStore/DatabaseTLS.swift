import FlowtalkCore
import Foundation
import PostgresNIO

/// How the connection to PostgreSQL is protected, from `DATABASE_URL`'s `sslmode` and `sslrootcert` (libpq's meanings):
/// - `disable`: plaintext; the default on loopback and Unix sockets, and only ever used elsewhere when asked for;
/// - `allow`, `prefer`: TLS if the server offers it, else plaintext without a word — development only for a remote host;
/// - `require` (the default for a host that is not loopback): TLS, certificate not checked (verified as `verify-ca`
///   when `sslrootcert` is given, as libpq does);
/// - `verify-ca`: TLS with a certificate signed by `sslrootcert` (or the system's roots); the host name is not checked;
/// - `verify-full`: as `verify-ca`, and the certificate must name the host.
package enum DatabaseTLS: Equatable, Sendable {
    case disable
    case prefer
    case require
    case verifyCA(rootCertificate: String?)
    case verifyFull(rootCertificate: String?)

    /// Errors name `DATABASE_URL` and never repeat its value.
    package init(sslmode: String?, rootCertificate: String?, host: String, mode: DeploymentMode) throws {
        func malformed(_ why: String) -> ConfigurationError { .malformed("DATABASE_URL", why) }
        let root = rootCertificate.flatMap { $0.isEmpty || $0 == "system" ? nil : $0 }
        if let root, !FileManager.default.isReadableFile(atPath: root) { throw malformed("sslrootcert names a file that cannot be read") }
        let loopback = Self.isLoopback(host)
        switch sslmode ?? (loopback ? "disable" : "require") {
        case "disable": self = .disable
        case "allow", "prefer":
            guard loopback || mode.isDevelopment else {
                throw malformed("sslmode=prefer and allow fall back to plaintext; use require or verify-full (or disable, deliberately)")
            }
            self = .prefer
        case "require": self = root.map { .verifyCA(rootCertificate: $0) } ?? .require
        case "verify-ca": self = .verifyCA(rootCertificate: root)
        case "verify-full": self = .verifyFull(rootCertificate: root)
        default: throw malformed("sslmode must be disable, allow, prefer, require, verify-ca or verify-full")
        }
    }

    /// `localhost`, 127.0.0.0/8 and `::1`: traffic that never leaves the machine.
    package static func isLoopback(_ host: String) -> Bool {
        let host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if host == "localhost" || host == "::1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// The PostgresNIO setting.
    package func clientTLS() throws -> PostgresClient.Configuration.TLS {
        switch self {
        case .disable: return .disable
        case .prefer: return .prefer(Self.client(verification: .none, root: nil))
        case .require: return .require(Self.client(verification: .none, root: nil))
        case .verifyCA(let root): return .require(Self.client(verification: .noHostnameVerification, root: root))
        case .verifyFull(let root): return .require(Self.client(verification: .fullVerification, root: root))
        }
    }

    private static func client(verification: CertificateVerification, root: String?) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = verification
        if let root { configuration.trustRoots = .file(root) }
        return configuration
    }
}
