import FlowtalkCore
import Foundation
import PostgresNIO

/// Turns `DATABASE_URL` into a PostgresNIO client configuration.
///
/// `postgres://user:pass@host:port/db` connects over TCP; `?host=/socket/dir` (libpq's form) over the Unix socket
/// `/socket/dir/.s.PGSQL.<port>`. `sslmode` chooses TLS as libpq does (see `DatabaseTLS`): `require` by default for a
/// host that is not loopback, `disable` on loopback and Unix sockets; `sslrootcert=/path` names the CA to verify against.
/// `search_path=schema` puts every table in that schema (tests, or several deployments sharing a database).
package enum DatabaseURL {
    /// The configuration for `url`; errors name `DATABASE_URL` and never repeat the value (it holds a password).
    /// Outside development `prefer` and `allow` are refused for a host that is not loopback: they fall back to
    /// plaintext without a word.
    package static func configuration(
        _ url: Secret<String>, maximumConnections: Int = 20, mode: DeploymentMode = .production
    ) throws -> PostgresClient.Configuration {
        func malformed(_ why: String) -> ConfigurationError { .malformed("DATABASE_URL", why) }
        guard let components = URLComponents(string: url.value), let scheme = components.scheme,
            scheme == "postgres" || scheme == "postgresql"
        else { throw malformed("expected postgres://user:password@host:port/database") }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, last in last })
        let username = components.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? query["user"]
        guard let username, !username.isEmpty else { throw malformed("a user name is required") }
        let password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding } ?? query["password"]
        var database = String(components.percentEncodedPath.drop(while: { $0 == "/" }))
        database = database.removingPercentEncoding ?? database
        let port = components.port ?? query["port"].flatMap(Int.init) ?? 5432
        guard (1...65535).contains(port) else { throw malformed("port out of range") }

        var configuration: PostgresClient.Configuration
        if let socketDirectory = query["host"], socketDirectory.hasPrefix("/") {
            configuration = .init(
                unixSocketPath: "\(socketDirectory)/.s.PGSQL.\(port)", username: username, password: password,
                database: database.isEmpty ? nil : database)
        } else {
            guard let host = components.host, !host.isEmpty else { throw malformed("a host is required") }
            let tls = try DatabaseTLS(sslmode: query["sslmode"], rootCertificate: query["sslrootcert"], host: host, mode: mode)
            configuration = .init(
                host: host, port: port, username: username, password: password, database: database.isEmpty ? nil : database,
                tls: try tls.clientTLS())
        }
        if let searchPath = query["search_path"], !searchPath.isEmpty {
            guard searchPath.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ",") || (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) })
            else { throw malformed("search_path must be lower-case schema names") }
            configuration.options.additionalStartupParameters.append(("search_path", searchPath))
        }
        // A statement whose client went away (a deadline closed its connection) stops within a second instead of running
        // on, locks held, until it ends by itself (PostgreSQL 14 or newer).
        configuration.options.additionalStartupParameters.append(("client_connection_check_interval", "1000"))
        // A client stopped mid-transaction (SIGSTOP, a frozen VM) cannot hold its row locks for longer than this.
        configuration.options.additionalStartupParameters.append(("idle_in_transaction_session_timeout", "15000"))
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }
}
