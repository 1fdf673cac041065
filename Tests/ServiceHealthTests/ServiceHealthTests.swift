import FlowtalkContracts
import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import FlowtalkTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import Testing

@testable import AnalyticsService
@testable import AuthService
@testable import DispatchService

/// Checks the three routes every service serves.
func checkHealthRoutes(_ client: some TestClientProtocol) async throws {
    let health = try await client.execute(uri: "/healthz", method: .get)
    #expect(health.status == .ok)
    try await waitUntilReady(client)
    let metrics = try await client.execute(uri: "/metrics", method: .get)
    #expect(metrics.status == .ok)
    #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
    let missing = try await client.execute(uri: "/no/such/route", method: .get)
    #expect(missing.status == .notFound)
    #expect(missing.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
}

@Suite struct ServiceHealthTests {
    @Test func authServesHealthReadinessAndMetrics() async throws {
        try await TestDatabase.withFresh { database in
            let configuration = AuthConfiguration(
                common: CommonConfiguration(database: database.configuration, port: 0), passwordPepper: TestSecrets.passwordPepper, bcryptCost: TestSecrets.bcryptCost, instagram: TestSecrets.instagram(), vault: TokenVault.testing().vault)
            try await AuthService.buildApplication(configuration: configuration, logger: .quiet("auth")).test(.router) { try await checkHealthRoutes($0) }
        }
    }

    @Test func analyticsServesHealthReadinessAndMetrics() async throws {
        try await TestDatabase.withFresh { database in
            let configuration = AnalyticsConfiguration(common: CommonConfiguration(database: database.configuration, port: 0))
            try await AnalyticsService.buildApplication(configuration: configuration, logger: .quiet("analytics")).test(.router) {
                try await checkHealthRoutes($0)
            }
        }
    }

    @Test func dispatchServesHealthAndRunsTheQueueUpkeep() async throws {
        try await TestDatabase.withFresh { database in
            let configuration = DispatchConfiguration(common: CommonConfiguration(database: database.configuration, port: 0), vault: TokenVault.testing().vault)
            try await DispatchService.buildApplication(configuration: configuration, logger: .quiet("dispatch")).test(.router) { client in
                try await checkHealthRoutes(client)
                // The upkeep samples queue depth into the gauges /metrics serves.
                var text = ""
                for _ in 0..<100 {
                    text = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
                    if text.contains("flowtalk_jobs_depth") { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                for state in ["available", "scheduled", "running", "dead"] {
                    #expect(text.contains(#"flowtalk_jobs_depth{state="\#(state)"}"#), "no depth sampled for \(state)")
                }
                // Nothing but the retention backstop's purge job (dispatch queues it for analytics, which is not running
                // here) can be in this fresh queue, and whether the first sample came before or after it is a matter of timing.
                #expect(text.contains(#"flowtalk_jobs_depth{state="available"} 0"#) || text.contains(#"flowtalk_jobs_depth{state="available"} 1"#))
                #expect(text.contains(#"flowtalk_jobs_depth{state="running"} 0"#) && text.contains(#"flowtalk_jobs_depth{state="dead"} 0"#))
            }
        }
    }

    @Test func dispatchRunsHandlersForTheKindsItKnows() async throws {
        try await TestDatabase.withFresh { database in
            var configuration = DispatchConfiguration(common: CommonConfiguration(database: database.configuration, port: 0), vault: TokenVault.testing().vault)
            configuration.worker.pollInterval = .milliseconds(100)
            let seen = Seen()
            let handlers: [String: JobHandler] = ["probe": { job, _ in await seen.add(String(buffer: job.payload)) }]
            let app = try await DispatchService.buildApplication(configuration: configuration, logger: .quiet("dispatch"), handlers: handlers)
            try await app.test(.router) { client in
                _ = try await waitUntilReady(client)
                try await database.withClient(logger: .quiet("db")) { db in
                    let queue = JobQueue(client: db, logger: .quiet("q"))
                    try await queue.enqueue([NewJob(kind: "probe", payload: ByteBuffer(string: "hello")), NewJob(kind: "unknown", payload: ByteBuffer())])
                    for _ in 0..<1200 where await seen.values.isEmpty { try await Task.sleep(for: .milliseconds(25)) }
                    #expect(await seen.values == ["hello"])
                    // A kind without a handler stays queued for the service that knows it.
                    #expect(try await queue.queuedPayloads(kind: "unknown").count == 1)
                    // Dispatch queues analytics' activity purge too (issue 13's backstop), and leaves it for analytics.
                    #expect(try await queue.queuedPayloads(kind: RetentionPurgeJob.kind).count == 1)
                }
            }
        }
    }
}

@Suite struct DispatchMaintenanceTests {
    @Test func handledEventMarkersOlderThanThirtyDaysAreForgotten() async throws {
        try await TestDatabase.withMigrated { _, client in
            let account = UUID()
            try await client.query("INSERT INTO accounts (id, email, password_hash) VALUES (\(account), 'a@example.com', 'x')")
            try await client.query(
                """
                INSERT INTO handled_events (mid, kind, account_id, handled_at) VALUES
                    ('old', 'message', \(account), now() - interval '31 days'), ('recent', 'message', \(account), now() - interval '29 days')
                """)
            let gate = SchemaGate()
            gate.open()
            let maintenance = DispatchMaintenance(client: Database(client), gate: gate, logger: .quiet("m"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await maintenance.run() }
                var remaining: [String] = ["old", "recent"]
                for _ in 0..<1200 where remaining.count == 2 {
                    remaining = []
                    for try await mid in try await client.query("SELECT mid FROM handled_events ORDER BY mid").decode(String.self) { remaining.append(mid) }
                    try await Task.sleep(for: .milliseconds(25))
                }
                #expect(remaining == ["recent"])
                group.cancelAll()
            }
        }
    }
}

/// Issue 14: with FLOWTALK_MIGRATE=false a service does not migrate; it is not ready until `flowtalk-admin migrate` has.
@Suite struct MigrateSwitchTests {
    @Test func aServiceToldNotToMigrateWaitsForTheSchema() async throws {
        try await TestDatabase.withFresh { database in
            var common = CommonConfiguration(database: database.configuration, port: 0)
            common.migrate = false
            let app = try await DispatchService.buildApplication(
                configuration: DispatchConfiguration(common: common, vault: TokenVault.testing().vault), logger: .quiet("dispatch"))
            try await app.test(.router) { client in
                try await Task.sleep(for: .seconds(1))
                #expect(try await client.execute(uri: "/readyz", method: .get).status == .serviceUnavailable)
                try await database.withClient(logger: .quiet("m")) { db in
                    var tables = 0
                    for try await n in try await db.query("SELECT count(*)::int FROM pg_tables WHERE schemaname = current_schema()").decode(Int.self) { tables = n }
                    #expect(tables == 0, "the service created no table")
                    try await Migrator.apply(FlowtalkMigrations.all, client: db, logger: .quiet("m"))
                }
                _ = try await waitUntilReady(client)
            }
        }
    }
}

/// Issue 13's retention backstop: dispatch shows the activity log's oldest entry's age, so a stopped 90-day purge shows.
@Suite struct RetentionBackstopTests {
    @Test func dispatchShowsTheOldestActivityEntrysAge() async throws {
        try await TestDatabase.withFresh { database in
            try await database.withClient(logger: .quiet("seed")) { client in
                try await Migrator.apply(FlowtalkMigrations.all, client: client, logger: .quiet("m"))
                let account = UUID()
                try await client.query("INSERT INTO accounts (id, email, password_hash) VALUES (\(account), 'old@example.com', 'x')")
                try await client.query(
                    "INSERT INTO activity (account_id, occurred_at, event_kind, outcome) VALUES (\(account), now() - interval '100 days', 'message', 'replied')")
            }
            let configuration = DispatchConfiguration(common: CommonConfiguration(database: database.configuration, port: 0), vault: TokenVault.testing().vault)
            let app = try await DispatchService.buildApplication(configuration: configuration, logger: .quiet("dispatch"))
            try await app.test(.router) { client in
                _ = try await waitUntilReady(client)
                var age: Double = 0
                try await eventually("the gauge is exported") {
                    let text = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
                    let line = text.split(separator: "\n").first { $0.hasPrefix("flowtalk_activity_oldest_age_seconds ") }
                    age = line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
                    return age > 0
                }
                #expect(age > 99 * 86_400 && age < 101 * 86_400)
            }
        }
    }
}

actor Seen {
    var values: [String] = []
    func add(_ value: String) { values.append(value) }
}
