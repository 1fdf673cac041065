import FlowtalkStore
import FlowtalkTesting
import Logging
import PostgresNIO
import Testing

@Suite struct MigratorTests {
    static let logger = Logger.quiet("test")

    @Test func appliesOnceAndRecords() async throws {
        try await TestDatabase.withFresh { database in
            try await database.withClient { client in
                #expect(try await Migrator.isCurrent(FlowtalkMigrations.all, client: client, logger: Self.logger) == false)
                let first = try await Migrator.apply(FlowtalkMigrations.all, client: client, logger: Self.logger)
                #expect(first == FlowtalkMigrations.all.map(\.version))
                let second = try await Migrator.apply(FlowtalkMigrations.all, client: client, logger: Self.logger)
                #expect(second.isEmpty)
                #expect(try await Migrator.isCurrent(FlowtalkMigrations.all, client: client, logger: Self.logger))
            }
        }
    }

    @Test func replicasStartingTogetherApplyEachMigrationOnce() async throws {
        try await TestDatabase.withFresh { database in
            // Five "replicas", each with its own client, migrate at the same moment.
            let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<5 {
                    group.addTask {
                        try await database.withClient { try await Migrator.apply(FlowtalkMigrations.all, client: $0, logger: Self.logger) }
                    }
                }
                var all: [[Int]] = []
                for try await versions in group { all.append(versions) }
                return all
            }
            #expect(applied.filter { !$0.isEmpty }.count == 1)
            #expect(applied.flatMap { $0 }.sorted() == FlowtalkMigrations.all.map(\.version))
            let rows = try await database.withClient { client in
                var versions: [Int] = []
                for try await v in try await client.query("SELECT version FROM schema_migrations ORDER BY version").decode(Int.self) {
                    versions.append(v)
                }
                return versions
            }
            #expect(rows == FlowtalkMigrations.all.map(\.version))
        }
    }

    @Test func aFailingMigrationLeavesNothingBehind() async throws {
        try await TestDatabase.withFresh { database in
            let broken =
                FlowtalkMigrations.all + [Migration(version: 9_999, name: "broken", statements: ["CREATE TABLE half_done (id int)", "THIS IS NOT SQL"])]
            try await database.withClient { client in
                await #expect(throws: (any Error).self) { try await Migrator.apply(broken, client: client, logger: Self.logger) }
                // One transaction: not even the earlier migrations were recorded.
                #expect(try await Migrator.isCurrent(FlowtalkMigrations.all, client: client, logger: Self.logger) == false)
                var tables = 0
                let rows = try await client.query(
                    "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename IN ('half_done', 'jobs')")
                for try await n in rows.decode(Int.self) { tables = n }
                #expect(tables == 0)
            }
        }
    }
}
