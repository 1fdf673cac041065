import ArgumentParser
import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import Foundation
import Logging
import PostgresNIO

/// `flowtalk-admin`: what an operator does to a running Flowtalk without writing SQL. Reads the same environment as
/// the services (`DATABASE_URL`, and `TOKEN_ENCRYPTION_KEYS` for `rotate-keys`; the `.env` file too).
/// Exit codes: 0 done, 1 configuration or database error, 2 done with items it could not handle, 64 usage.
@main struct FlowtalkAdmin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flowtalk-admin",
        abstract: "Operate a Flowtalk deployment: migrate, inspect, rotate keys, retry jobs, purge.",
        discussion: """
            Every command reads DATABASE_URL (and DATABASE_MAX_CONNECTIONS, DATABASE_TIMEOUT_SECONDS, FLOWTALK_ENV) from the
            environment or the .env file, as the services do. Exit status: 0 done; 1 a configuration or database error;
            2 done, but some items could not be handled (they are listed); 64 a usage error.
            """,
        subcommands: [Migrate.self, Status.self, RotateKeys.self, Jobs.self, Purge.self])
}

/// Runs `body` with a database client of the configured database, and maps failures to exit codes.
enum AdminRuntime {
    static func withDatabase(_ body: (Database, ConfigEnvironment, Logger) async throws -> Void) async throws {
        var logger = Logger(label: "flowtalk-admin")
        logger.logLevel = .warning
        let environment = ConfigEnvironment.load()
        let common: CommonConfiguration
        do {
            common = try CommonConfiguration(environment: environment, defaultPort: 0)
        } catch let error as ConfigurationError {
            throw AdminFailure.configuration("\(error)")
        }
        let client = PostgresClient(configuration: common.database, backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            do {
                try await body(Database(client, timeout: max(common.databaseTimeout, .seconds(60))), environment, logger)
            } catch let error as AdminFailure {
                throw error
            } catch let error as ExitCode {
                throw error
            } catch {
                throw AdminFailure.database(String(reflecting: error).prefix(300).description)
            }
        }
    }
}

/// A failure the operator is told about in one line on stderr, with exit status 1.
enum AdminFailure: Error, CustomStringConvertible {
    case configuration(String)
    case database(String)

    var description: String {
        switch self {
        case .configuration(let text): "configuration error: \(text)"
        case .database(let text): "database error: \(text)"
        }
    }
}

extension AsyncParsableCommand {
    /// Runs the command's work, printing a failure as one line and exiting 1.
    func report(_ work: () async throws -> Void) async throws {
        do {
            try await work()
        } catch let failure as AdminFailure {
            FileHandle.standardError.write(Data("flowtalk-admin: \(failure)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Prints a line to standard output (commands' results) and flushes it, so progress shows as it happens.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
