import FlowtalkStore
import FlowtalkTesting
import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization
import Testing

/// PostgreSQL crashing under the store (issue #10): nothing is acknowledged that did not commit, no call waits forever,
/// and workers carry on once the database is back. Each test crashes a cluster of its own.
@Suite(.serialized, .timeLimit(.minutes(3))) struct DatabaseFaultTests {
    static let logger = Logger.quiet("fault")

    /// Runs `body` with a migrated private cluster and a running client for it.
    static func withCluster(_ body: @Sendable (PrivateCluster, PostgresClient) async throws -> Void) async throws {
        try await PrivateCluster.with { cluster in
            try await TestDatabase.withClient(try cluster.configuration(), logger: logger) { client in
                try await Migrator.apply(FlowtalkMigrations.all, client: client, logger: logger)
                try await body(cluster, client)
            }
        }
    }

    /// A commit held open by a deferred trigger that sleeps, then an immediate shutdown meanwhile: PostgreSQL may already
    /// have flushed the statement's `CommandComplete`, but the commit never happened, so the enqueue must fail.
    @Test func anEnqueueWhoseCommitNeverHappenedIsNotAcknowledged() async throws {
        try await Self.withCluster { cluster, client in
            try await client.query(
                """
                CREATE FUNCTION hold_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(30); RETURN NULL; END $$
                """)
            try await client.query(
                "CREATE CONSTRAINT TRIGGER held AFTER INSERT ON jobs DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hold_commit()")
            let queue = JobQueue(client: Database(client, timeout: .seconds(60)), logger: Self.logger)
            let outcome = Box<String>("pending")
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        try await queue.enqueue([job("inbound.message", "hello", key: "mid-held")])
                        outcome.withLock { $0 = "acknowledged" }
                    } catch {
                        outcome.withLock { $0 = "failed" }
                    }
                }
                // The commit is being held once the trigger sleeps.
                try await eventually {
                    try await count(client, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'") > 0
                }
                try cluster.crash()
                try await group.waitForAll()
            }
            #expect(outcome.withLock { $0 } == "failed")
            try cluster.restart()
            try await eventually { try await count(client, "SELECT 1") == 1 }
            // What was reported as failed indeed did not commit, so Meta's redelivery will be taken.
            #expect(try await count(client, "SELECT count(*) FROM jobs") == 0)
            #expect(try await count(client, "SELECT count(*) FROM job_dedupe") == 0)
        }
    }

    /// A transaction in flight when PostgreSQL dies fails promptly (the old code waited forever for its ROLLBACK), and
    /// the next call after the restart works on a fresh connection.
    @Test func aTransactionWhoseConnectionDiesFailsAndTheNextCallWorks() async throws {
        try await Self.withCluster { cluster, client in
            let database = Database(client, timeout: .seconds(60))
            let outcome = Box<String>("pending")
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    do {
                        try await database.withTransaction(logger: Self.logger) { db in
                            try await db.query("INSERT INTO job_dedupe (key) VALUES ('in-flight')", logger: Self.logger)
                            try await db.query("SELECT pg_sleep(30)", logger: Self.logger)
                        }
                        outcome.withLock { $0 = "committed" }
                    } catch {
                        outcome.withLock { $0 = isDatabaseUnavailable(error) ? "unavailable" : "other: \(type(of: error))" }
                    }
                }
                try await eventually {
                    try await count(client, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'") > 0
                }
                try cluster.crash()
                try await group.waitForAll()
            }
            #expect(outcome.withLock { $0 } == "unavailable")
            try cluster.restart()
            try await eventually { try await database.query("SELECT 1", logger: Self.logger).count == 1 }
            #expect(try await count(client, "SELECT count(*) FROM job_dedupe WHERE key = 'in-flight'") == 0)
        }
    }

    /// A call on a connection that has closed fails at once instead of hanging (postgres-nio drops such a write).
    @Test func aQueryOnAClosedConnectionFailsInsteadOfHanging() async throws {
        try await Self.withCluster { _, client in
            let database = Database(client, timeout: .seconds(60))
            let error = await #expect(throws: DatabaseConnectionLost.self) {
                try await database.withConnection { connection in
                    try await connection.raw.close()
                    try await connection.query("SELECT 1", logger: Self.logger)
                }
            }
            #expect(error != nil)
            let rows = try await database.query("SELECT 1", logger: Self.logger)
            #expect(rows.count == 1)
        }
    }

    /// A call past its deadline is cut off and its connection closed, so a stuck statement holds nothing.
    @Test func aCallPastItsDeadlineIsCutOff() async throws {
        try await Self.withCluster { _, client in
            let database = Database(client, timeout: .milliseconds(500))
            await #expect(throws: DatabaseTimeout.self) {
                try await database.query("SELECT pg_sleep(600)", logger: Self.logger)
            }
            // The server side ended too: the connection was closed and PostgreSQL noticed (client_connection_check_interval),
            // so no backend still runs the statement, holding whatever it held.
            try await eventually {
                try await count(client, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'") == 0
            }
        }
    }

    /// Workers whose handlers were inside a transaction when PostgreSQL restarted (twice) carry on: every job runs to
    /// completion afterwards, none stays leased by a handler that will never return.
    @Test func workersRecoverFromPostgresRestarts() async throws {
        try await PrivateCluster.with { cluster in
            // The cluster's own database, in its public schema.
            let database = TestDatabase(schema: "public", configuration: try cluster.configuration(maximumConnections: 20), url: cluster.url)
            try await database.withClient(logger: Self.logger) { client in
                try await Migrator.apply(FlowtalkMigrations.all, client: client, logger: Self.logger)
                let queue = JobQueue(client: client, logger: Self.logger)
                try await queue.enqueue((0..<40).map { job("slow", "\($0)", key: "k\($0)") })
                let done = Box(Set<String>())
                let handler: JobHandler = { claimed, _ in
                    let db = Database(client, timeout: .seconds(30))
                    try await db.withTransaction(logger: Self.logger) { connection in
                        try await connection.query("SELECT pg_sleep(0.2)", logger: Self.logger)
                    }
                    _ = done.withLock { $0.insert(String(buffer: claimed.payload)) }
                }
                try await withWorkers(
                    database, count: 2, handlers: ["slow": handler],
                    configure: {
                        $0.lease = .seconds(3)
                        $0.heartbeat = .seconds(1)
                        $0.batchSize = 4
                        $0.loops = 2
                    }
                ) {
                    for _ in 0..<2 {
                        try await eventually {
                            try await count(client, "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'") > 0
                        }
                        try cluster.crash()
                        try await Task.sleep(for: .milliseconds(500))
                        try cluster.restart()
                    }
                    try await eventually(timeout: .seconds(60)) { try await count(client, "SELECT count(*) FROM jobs") == 0 }
                }
                #expect(done.withLock { $0.count } == 40)
                #expect(try await count(client, "SELECT count(*) FROM jobs") == 0)
            }
        }
    }

    /// A handler that never returns (and ignores cancellation) is abandoned at its kind's deadline: the job is retried
    /// with `handler_timeout` and its lease is not kept alive, so the next attempt runs.
    @Test func aHandlerPastItsDeadlineIsAbandonedAndItsJobRetried() async throws {
        try await TestDatabase.withMigrated { database, client in
            let queue = JobQueue(client: client, logger: Self.logger)
            try await queue.enqueue([job("stuck", "once")])
            let attempts = Box(0)
            let handler: JobHandler = { _, _ in
                if attempts.withLock({ $0 += 1; return $0 }) == 1 {
                    await withCheckedContinuation { (_: CheckedContinuation<Void, Never>) in }  // never resumed
                }
            }
            let sawTimeout = Box(false)
            try await withWorkers(
                database, count: 1, handlers: ["stuck": handler],
                configure: {
                    $0.handlerTimeouts = ["stuck": .seconds(1)]
                    $0.lease = .seconds(30)
                    $0.heartbeat = .milliseconds(200)
                }
            ) {
                try await eventually(timeout: .seconds(60)) {
                    if try await count(client, "SELECT count(*) FROM jobs WHERE last_error = 'handler_timeout'") > 0 { sawTimeout.withLock { $0 = true } }
                    return try await count(client, "SELECT count(*) FROM jobs") == 0
                }
            }
            #expect(sawTimeout.withLock { $0 })
            #expect(attempts.withLock { $0 } == 2)
        }
    }
}
