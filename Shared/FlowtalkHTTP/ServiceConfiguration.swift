import FlowtalkCore
import FlowtalkStore
import Foundation
import Logging
import PostgresNIO

/// What every service reads: the database, its bind address and the log level.
package struct CommonConfiguration: Sendable {
    package var database: PostgresClient.Configuration
    package var host: String
    package var port: Int
    package var logLevel: Logger.Level
    /// The deadline of every database call (`DATABASE_TIMEOUT_SECONDS`).
    package var databaseTimeout: Duration = .seconds(10)

    package init(database: PostgresClient.Configuration, host: String = "127.0.0.1", port: Int, logLevel: Logger.Level = .info) {
        self.database = database
        self.host = host
        self.port = port
        self.logLevel = logLevel
    }

    /// Reads `DATABASE_URL`, `HOST`, `PORT`, `LOG_LEVEL`, `DATABASE_MAX_CONNECTIONS` and `DATABASE_TIMEOUT_SECONDS`.
    package init(environment: ConfigEnvironment, defaultPort: Int) throws {
        let maxConnections = try environment.int("DATABASE_MAX_CONNECTIONS", default: 20, range: 2...500)
        database = try DatabaseURL.configuration(try environment.requiredSecret("DATABASE_URL"), maximumConnections: maxConnections)
        host = environment.optional("HOST") ?? "0.0.0.0"
        port = try environment.int("PORT", default: defaultPort, range: 0...65535)
        let level = environment.optional("LOG_LEVEL") ?? "info"
        guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
            throw ConfigurationError.malformed("LOG_LEVEL", "expected trace, debug, info, notice, warning, error or critical")
        }
        logLevel = parsed
        databaseTimeout = .seconds(try environment.int("DATABASE_TIMEOUT_SECONDS", default: 10, range: 1...600))
    }
}

/// Runs a service's entry point: a configuration error prints one line naming the variable, an address it cannot
/// listen on one line naming the address, and it exits with status 1.
package enum ServiceMain {
    package static func run(_ name: String, _ body: @Sendable (ConfigEnvironment) async throws -> Void) async {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .trace
            return handler
        }
        do {
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
