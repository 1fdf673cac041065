import FlowtalkCore
import FlowtalkStore
import Foundation
import Logging
import PostgresNIO

/// What every service reads: the deployment mode, the database, its bind address, how it serves HTTP, which proxies it
/// trusts and the log level.
package struct CommonConfiguration: Sendable {
    /// `FLOWTALK_ENV`: outside development HTTPS is enforced.
    package var mode: DeploymentMode
    package var database: PostgresClient.Configuration
    package var host: String
    package var port: Int
    package var logLevel: Logger.Level
    /// The deadline of every database call (`DATABASE_TIMEOUT_SECONDS`).
    package var databaseTimeout: Duration = .seconds(10)
    /// `TLS_CERT_FILE`/`TLS_KEY_FILE`, the idle timeout and the header limits.
    package var server: HTTPServerSettings
    /// `TRUSTED_PROXIES`: whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    package var trustedProxies: TrustedProxies
    /// `FLOWTALK_MIGRATE` (default true): apply missing migrations at start; false: wait until `flowtalk-admin migrate`
    /// (a deployment's migration job) has, with `/readyz` answering 503 meanwhile.
    package var migrate = true
    /// `METRICS_PORT`: when set, `/metrics` is served only there (plain HTTP, on `HOST`), never on the public port.
    package var metricsPort: Int? = nil

    /// For tests and tools: development mode (plain HTTP on loopback) unless told otherwise. The services' `main`
    /// reads the environment instead, where an unset `FLOWTALK_ENV` is production.
    package init(
        database: PostgresClient.Configuration, host: String = "127.0.0.1", port: Int, logLevel: Logger.Level = .info,
        mode: DeploymentMode = .development, server: HTTPServerSettings = HTTPServerSettings(), trustedProxies: TrustedProxies = .none
    ) {
        self.mode = mode
        self.database = database
        self.host = host
        self.port = port
        self.logLevel = logLevel
        self.server = server
        self.trustedProxies = trustedProxies
    }

    /// Reads `FLOWTALK_ENV`, `DATABASE_URL`, `HOST`, `PORT`, `LOG_LEVEL`, `DATABASE_MAX_CONNECTIONS`,
    /// `DATABASE_TIMEOUT_SECONDS`, `TLS_CERT_FILE`, `TLS_KEY_FILE` and `TRUSTED_PROXIES`.
    package init(environment: ConfigEnvironment, defaultPort: Int) throws {
        mode = try environment.deploymentMode()
        let maxConnections = try environment.int("DATABASE_MAX_CONNECTIONS", default: 20, range: 2...500)
        database = try DatabaseURL.configuration(
            try environment.requiredSecret("DATABASE_URL"), maximumConnections: maxConnections, mode: mode)
        server = try HTTPServerSettings(environment: environment)
        trustedProxies = try TrustedProxies(environment: environment)
        host = environment.optional("HOST") ?? "0.0.0.0"
        port = try environment.int("PORT", default: defaultPort, range: 0...65535)
        let level = environment.optional("LOG_LEVEL") ?? "info"
        guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
            throw ConfigurationError.malformed("LOG_LEVEL", "expected trace, debug, info, notice, warning, error or critical")
        }
        logLevel = parsed
        databaseTimeout = .seconds(try environment.int("DATABASE_TIMEOUT_SECONDS", default: 10, range: 1...600))
        migrate = try environment.bool("FLOWTALK_MIGRATE", default: true)
        if environment.optional("METRICS_PORT") != nil { metricsPort = try environment.int("METRICS_PORT", default: 0, range: 1...65535) }
    }

    /// Outside development, `value` (read from `variable`) must be an https URL.
    package func requireHTTPS(_ value: String, variable: String) throws {
        guard !mode.isDevelopment, URL(string: value)?.scheme?.lowercased() != "https" else { return }
        throw ConfigurationError.malformed(variable, "must be an https:// URL unless FLOWTALK_ENV=development")
    }

    /// Outside development, a service with public routes must know it is reached over HTTPS: it speaks TLS itself
    /// (`TLS_CERT_FILE`, `TLS_KEY_FILE`) or sits behind a proxy it trusts to say so (`TRUSTED_PROXIES`).
    package func requireHTTPSFront() throws {
        guard !mode.isDevelopment, server.tls == nil, trustedProxies.isEmpty else { return }
        throw ConfigurationError.malformed(
            "TRUSTED_PROXIES", "set it to the TLS-terminating proxy's addresses, or set TLS_CERT_FILE and TLS_KEY_FILE, unless FLOWTALK_ENV=development")
    }
}

/// Runs a service's entry point: a configuration error prints one line naming the variable, an address it cannot
/// listen on one line naming the address, and it exits with status 1.
package enum ServiceMain {
    /// `tracing`: whether the process may export traces (`ServiceTracing`); the sandbox, which runs no exporter, does not.
    package static func run(_ name: String, tracing: Bool = true, _ body: @Sendable (ConfigEnvironment) async throws -> Void) async {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .trace
            return handler
        }
        do {
            if tracing, try ServiceTracing.bootstrap(serviceName: name) {
                Logger(label: name).info("Tracing on: spans are exported over OTLP/HTTP")
            }
            try await body(ConfigEnvironment.load())
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("\(name): configuration error: \(error)\n".utf8))
            exit(1)
        } catch let error as ListenFailure {
            FileHandle.standardError.write(Data("\(name): \(error)\n".utf8))
            exit(1)
        } catch {
            FileHandle.standardError.write(Data("\(name): stopped: \(type(of: error))\n".utf8))
            exit(1)
        }
    }
}
