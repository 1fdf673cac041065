import FlowtalkCore
import FlowtalkStore
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// A throwaway schema in the test database (`make test` starts PostgreSQL and sets `DATABASE_URL`).
/// Each test gets its own schema, so workers in one test never see another test's jobs.
package struct TestDatabase: Sendable {
    package let schema: String
    package let configuration: PostgresClient.Configuration
    package let url: String

    package init(schema: String, configuration: PostgresClient.Configuration, url: String) {
        self.schema = schema
        self.configuration = configuration
        self.url = url
    }

    /// The database from `DATABASE_URL`; a missing variable is a failure, never a skip.
    package static func baseURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty else {
            throw TestDatabaseError.noDatabase
        }
        return url
    }

    /// Creates a fresh schema and returns a configuration whose connections use it.
    package static func create(logger: Logger = Logger.quiet("test-db")) async throws -> TestDatabase {
        let url = try baseURL()
        let base = try DatabaseURL.configuration(Secret(url), maximumConnections: 4)
        let schema = "test_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased())"
        try await withClient(base, logger: logger) { client in
            try await client.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(schema)"), logger: logger)
        }
        var configuration = try DatabaseURL.configuration(Secret(url), maximumConnections: 40)
        configuration.options.additionalStartupParameters.append(("search_path", schema))
        return TestDatabase(schema: schema, configuration: configuration, url: url)
    }

    /// Drops the schema and everything in it.
    package func drop(logger: Logger = Logger.quiet("test-db")) async throws {
        let base = try DatabaseURL.configuration(Secret(url), maximumConnections: 2)
        try await Self.withClient(base, logger: logger) { client in
            try await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"), logger: logger)
        }
    }

    /// Runs `body` with a running client for this schema.
    package func withClient<T: Sendable>(logger: Logger = Logger.quiet("test-db"), _ body: @Sendable (PostgresClient) async throws -> T) async throws -> T {
        try await Self.withClient(configuration, logger: logger, body)
    }

    /// Runs `body` with a running client for `configuration`, then stops the client. The stop is waited for 10 s at
    /// most: a CI run once hung for good in a test's teardown with no connection left, waiting for `run()` to return
    /// after its cancellation; a client that does not stop in time is left to finish on its own, and said so.
    package static func withClient<T: Sendable>(
        _ configuration: PostgresClient.Configuration, logger: Logger, _ body: @Sendable (PostgresClient) async throws -> T
    ) async throws -> T {
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let stopped = Atomic<Bool>(false)
        let runner = Task {
            await client.run()
            stopped.store(true, ordering: .relaxed)
        }
        defer { runner.cancel() }
        do {
            let result = try await body(client)
            await stop(runner, stopped)
            return result
        } catch {
            await stop(runner, stopped)
            throw error
        }
    }

    private static func stop(_ runner: Task<Void, Never>, _ stopped: borrowing Atomic<Bool>) async {
        runner.cancel()
        for _ in 0..<200 where !stopped.load(ordering: .relaxed) { try? await Task.sleep(for: .milliseconds(50)) }
        if !stopped.load(ordering: .relaxed) {
            FileHandle.standardError.write(Data("test-db: a PostgresClient did not stop within 10 s of its cancellation; left to finish on its own\n".utf8))
        }
    }

    /// Creates an empty schema, runs `body`, and drops the schema whatever happened.
    package static func withFresh<T: Sendable>(_ body: @Sendable (TestDatabase) async throws -> T) async throws -> T {
        let database = try await create()
        do {
            let result = try await body(database)
            try await database.drop()
            return result
        } catch {
            try? await database.drop()
            throw error
        }
    }

    /// Creates a schema, migrates it, runs `body`, and drops the schema whatever happened.
    package static func withMigrated<T: Sendable>(_ body: @Sendable (TestDatabase, PostgresClient) async throws -> T) async throws -> T {
        let database = try await create()
        do {
            let result = try await database.withClient { client in
                try await Migrator.apply(FlowtalkMigrations.all, client: client, logger: Logger.quiet("test-db"))
                return try await body(database, client)
            }
            try await database.drop()
            return result
        } catch {
            try? await database.drop()
            throw error
        }
    }
}

package enum TestDatabaseError: Error, CustomStringConvertible {
    case noDatabase
    package var description: String { "DATABASE_URL is not set: run the tests with `make test`, which starts PostgreSQL" }
}

extension Logger {
    /// A logger that prints nothing, for code under test whose logs are not being checked.
    package static func quiet(_ label: String) -> Logger { Logger(label: label, factory: { _ in SwiftLogNoOpLogHandler() }) }
}

extension TokenVault {
    /// A vault with a fresh random key, and the same key as a `TOKEN_ENCRYPTION_KEYS` value for real binaries.
    package static func testing() -> (vault: TokenVault, keyRing: String) {
        let key = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let ring = "test:\(Data(key).base64EncodedString())"
        return (try! TokenVault(keyRing: Secret(ring)), ring)
    }
}
