import Logging
import PostgresNIO

/// One forward-only schema change: an ordered list of single SQL statements (the extended protocol runs one at a time).
package struct Migration: Sendable {
    package let version: Int
    package let name: String
    package let statements: [String]

    package init(version: Int, name: String, statements: [String]) {
        self.version = version
        self.name = name
        self.statements = statements
    }
}

/// Applies migrations in order, in one transaction, under an advisory lock, recording each in `schema_migrations`.
/// Any number of replicas may call it at once: the lock serialises them and the later ones find nothing to do.
package enum Migrator {
    /// The seed of the schema's `pg_advisory_xact_lock` key ("flowtalk" in ASCII).
    static let lockKey: Int64 = 0x666C_6F77_7461_6C6B

    /// Applies what is missing; returns the versions applied by this call.
    @discardableResult
    package static func apply(_ migrations: [Migration], client: PostgresClient, logger: Logger) async throws -> [Int] {
        try await apply(migrations, database: Database(client, timeout: migrationTimeout), logger: logger)
    }

    /// A migration may rewrite a large table: it gets far longer than an ordinary call.
    static let migrationTimeout = Duration.seconds(1_800)

    @discardableResult
    package static func apply(_ migrations: [Migration], database: Database, logger: Logger) async throws -> [Int] {
        try await database.withTransaction(logger: logger, timeout: max(database.timeout, migrationTimeout)) { connection in
            // One lock per schema: replicas migrating one database wait for each other, while the test suite's
            // throwaway schemas (one database, a schema per test) migrate side by side.
            try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(current_schema(), \(lockKey)))", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
            var applied = Set<Int>()
            for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger).decode(Int.self) {
                applied.insert(version)
            }
            var done: [Int] = []
            for migration in migrations.sorted(by: { $0.version < $1.version }) where !applied.contains(migration.version) {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))", logger: logger)
                logger.info("Migration applied", metadata: ["db.migration": "\(migration.version)"])
                done.append(migration.version)
            }
            return done
        }
    }

    /// Whether the newest of `migrations` is recorded (what `/readyz` checks).
    package static func isCurrent(_ migrations: [Migration], client: PostgresClient, logger: Logger) async throws -> Bool {
        try await isCurrent(migrations, database: Database(client), logger: logger)
    }

    package static func isCurrent(_ migrations: [Migration], database client: Database, logger: Logger) async throws -> Bool {
        guard let latest = migrations.map(\.version).max() else { return true }
        let rows = try await client.query(
            "SELECT count(*) FROM pg_tables WHERE tablename = 'schema_migrations' AND schemaname = current_schema()", logger: logger)
        var exists = false
        for try await count in rows.decode(Int.self) { exists = count > 0 }
        guard exists else { return false }
        let versions = try await client.query("SELECT version FROM schema_migrations WHERE version = \(latest)", logger: logger)
        for try await _ in versions.decode(Int.self) { return true }
        return false
    }
}
