import FlowtalkStore
import FlowtalkTesting
import Foundation
import Logging
import Metrics
import MetricsTestKit
import NIOCore
import PostgresNIO
import ServiceLifecycle
import ServiceLifecycleTestKit
import Synchronization
import Testing

/// Records what handlers saw, safely across tasks.
final class Ledger: Sendable {
    private let state = Mutex<(runs: [Int64: Int], order: [String: [Int]], running: Set<String>, overlaps: Int)>(([:], [:], [], 0))

    func ran(_ id: Int64) { state.withLock { $0.runs[id, default: 0] += 1 } }
    var runs: [Int64: Int] { state.withLock { $0.runs } }
    var total: Int { state.withLock { $0.runs.values.reduce(0, +) } }

    /// Marks a conversation as running; counts an overlap if it already was.
    func begin(_ key: String, index: Int) {
        state.withLock {
            if $0.running.contains(key) { $0.overlaps += 1 }
            $0.running.insert(key)
            $0.order[key, default: []].append(index)
        }
    }
    func end(_ key: String) { _ = state.withLock { $0.running.remove(key) } }
    var overlaps: Int { state.withLock { $0.overlaps } }
    var order: [String: [Int]] { state.withLock { $0.order } }
}

/// A value shared between tasks.
final class Box<Value: Sendable>: Sendable {
    private let state: Mutex<Value>
    init(_ value: Value) { state = Mutex(value) }
    func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T { state.withLock { body(&$0) } }
}

func job(_ kind: String = "test", _ text: String = "x", key: String? = nil, conversation: String? = nil, priority: Int16 = 0, runAt: Date? = nil, maxAttempts: Int32 = 8) -> NewJob {
    NewJob(kind: kind, payload: ByteBuffer(string: text), dedupeKey: key, serializationKey: conversation, priority: priority, runAt: runAt, maxAttempts: maxAttempts)
}

/// One number from the database, through `Database`: after a fault (a connection closed at its deadline, a restart) a
/// plain `PostgresClient.query` can be handed the dead connection and wait for ever (docs/reliability.md); this one
/// fails instead, and `eventually` tries again. A fault test hung in CI this way.
func count(_ client: PostgresClient, _ sql: String) async throws -> Int {
    var n = 0
    for try await value in try await Database(client).query(PostgresQuery(unsafeSQL: sql), logger: Logger.quiet("count")).decode(Int.self) {
        n = value
    }
    return n
}

/// Runs `body` while `workers` run, each on its own PostgresClient (its own connections), then stops them.
func withWorkers<T: Sendable>(
    _ database: TestDatabase, count: Int, handlers: [String: JobHandler], configure: (inout JobWorkerConfiguration) -> Void = { _ in },
    _ body: @Sendable () async throws -> T
) async throws -> T {
    var configuration = JobWorkerConfiguration()
    configuration.pollInterval = .milliseconds(200)
    configuration.rescueInterval = .milliseconds(200)
    configure(&configuration)
    let settings = configuration
    return try await withThrowingTaskGroup(of: T?.self) { group in
        for index in 0..<count {
            group.addTask {
                try await database.withClient { client in
                    var config = settings
                    config.workerID = "worker-\(index)"
                    let queue = JobQueue(client: client, logger: Logger.quiet("worker-\(index)"))
                    try await JobWorker(queue: queue, handlers: handlers, configuration: config, logger: Logger.quiet("worker-\(index)")).run()
                }
                return nil
            }
        }
        defer { group.cancelAll() }
        return try await body()
    }
}

@Suite struct JobQueueTests {
    static let logger = Logger.quiet("test")

    @Test func enqueueManyInOneStatementWithDedupe() async throws {
        try await TestDatabase.withMigrated { _, client in
            let queue = JobQueue(client: client, logger: Self.logger)
            let inserted = try await queue.enqueue([job(key: "k1"), job(key: "k2"), job("test", "dup", key: "k1"), job(), job()])
            #expect(inserted == 4)
            #expect(try await queue.enqueue([job(key: "k1"), job(key: "k2")]) == 0)
            #expect(try await count(client, "SELECT count(*) FROM jobs") == 4)
            // The first of two duplicates in one batch wins.
            #expect(try await count(client, "SELECT count(*) FROM jobs WHERE dedupe_key = 'k1' AND payload = 'x'::bytea") == 1)

            // Done and deleted, the key is still remembered: a redelivery hours later is still a duplicate.
            let claimed = try await queue.claim(kinds: ["test"], limit: 10, worker: "w", lease: .seconds(30))
            #expect(claimed.count == 4)
            #expect(try await queue.complete(claimed).count == 4)
            #expect(try await count(client, "SELECT count(*) FROM jobs") == 0)
            #expect(try await queue.enqueue([job(key: "k1")]) == 0)
            #expect(try await queue.enqueue([job(key: "k3")]) == 1)
        }
    }

    @Test func oneNotifyPerTransactionNotPerRow() async throws {
        try await TestDatabase.withMigrated { database, client in
            let queue = JobQueue(client: client, logger: Self.logger)
            let received = Box(0)
            try await withThrowingTaskGroup(of: Void.self) { group in
                let (listening, listeningContinuation) = AsyncStream.makeStream(of: Void.self)
                group.addTask {
                    try await database.withClient { listener in
                        try await listener.withConnection { connection in
                            let channel = try await JobQueue.channel(on: DatabaseConnection(raw: connection), logger: Self.logger)
                            try await connection.listen(on: channel) { notifications in
                                listeningContinuation.yield()
                                for try await _ in notifications { received.withLock { $0 += 1 } }
                            }
                        }
                    }
                }
                for await _ in listening { break }

                #expect(try await queue.enqueue((0..<50).map { job("test", "\($0)", key: "n\($0)") }) == 50)
                // Two statements in one transaction: PostgreSQL folds the identical notifications into one.
                try await client.withTransaction(logger: Self.logger) { connection in
                    try await queue.enqueue((0..<20).map { job("test", "\($0)") }, on: DatabaseConnection(raw: connection))
                    try await queue.enqueue((0..<20).map { job("test", "\($0)") }, on: DatabaseConnection(raw: connection))
                }
                // Only duplicates: nothing inserted, nothing notified.
                #expect(try await queue.enqueue([job(key: "n1"), job(key: "n2")]) == 0)
                // A marker, so we know every earlier notification has arrived.
                try await client.query("SELECT pg_notify('\(unescaped: JobQueue.channelPrefix)' || current_schema(), 'marker')")
                try await eventually(timeout: .seconds(10)) { received.withLock { $0 } >= 3 }
                try await Task.sleep(for: .milliseconds(200))
                #expect(received.withLock { $0 } == 3)
                group.cancelAll()
            }
        }
    }

    @Test func fourWorkersOnSeparateConnectionsRunEveryJobExactlyOnce() async throws {
        try await TestDatabase.withMigrated { database, client in
            let queue = JobQueue(client: client, logger: Self.logger)
            let total = 600
            _ = try await queue.enqueue((0..<total).map { job("test", "\($0)", key: "drain-\($0)") })
            let ledger = Ledger()
            let failedOnce = Box(Set<Int64>())
            let handler: JobHandler = { job, _ in
                // Every tenth job fails on its first run and must come back exactly once more.
                if job.id % 10 == 0 && job.attempt == 1 {
                    failedOnce.withLock { _ = $0.insert(job.id) }
                    throw JobFailure.retryAfter(.zero, "planned failure")
                }
                ledger.ran(job.id)
            }
            try await withWorkers(database, count: 4, handlers: ["test": handler], configure: { $0.batchSize = 16; $0.loops = 2 }) {
                try await eventually(timeout: .seconds(60)) { ledger.total >= total }
                // Let any stray duplicate run show itself before counting.
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(ledger.runs.count == total)
            #expect(ledger.runs.values.allSatisfy { $0 == 1 })
            #expect(failedOnce.withLock { $0.count } == total / 10)
            #expect(try await count(client, "SELECT count(*) FROM jobs") == 0)
        }
    }

    @Test func aWorkerThatStopsHeartbeatingLosesItsJobAndIsFencedOut() async throws {
        try await TestDatabase.withMigrated { database, client in
            let queue = JobQueue(client: client, logger: Self.logger)
            _ = try await queue.enqueue([job("test", "stuck")])
            // A worker claims the job with a short lease, then goes silent (as if paused or partitioned).
            let stale = try #require(try await queue.claim(kinds: ["test"], limit: 1, worker: "stale", lease: .seconds(1)).first)
            let attempts = Box<[Int32]>([])
            try await withWorkers(database, count: 1, handlers: ["test": { job, _ in attempts.withLock { $0.append(job.attempt) } }]) {
                // Ran, and completed (deleted) by the new worker.
                try await eventually(timeout: .seconds(60)) { try await count(client, "SELECT count(*) FROM jobs") == 0 }
            }
            #expect(attempts.withLock { $0 } == [2])
            // The stale worker wakes up: whatever it writes now changes nothing.
            #expect(try await queue.complete([stale]).isEmpty)
            #expect(try await queue.fail(stale, error: "late") == .leaseLost)
            #expect(try await queue.heartbeat([stale], lease: .seconds(30)).isEmpty)
            #expect(try await count(client, "SELECT count(*) FROM jobs") == 0)
        }
    }

    @Test func heartbeatKeepsTheLeaseAlive() async throws {
        try await TestDatabase.withMigrated { _, client in
            let queue = JobQueue(client: client, logger: Self.logger)
            _ = try await queue.enqueue([job()])
            let held = try #require(try await queue.claim(kinds: ["test"], limit: 1, worker: "a", lease: .seconds(2)).first)
            // Ten heartbeats 300 ms apart keep a 2-second lease alive for 3 seconds.
            for _ in 0..<10 {
                try await Task.sleep(for: .milliseconds(300))
                #expect(try await queue.heartbeat([held], lease: .seconds(2)) == [held.id])
                #expect(try await queue.rescueExpired() == 0)
            }
            #expect(try await queue.claim(kinds: ["test"], limit: 1, worker: "b", lease: .seconds(1)).isEmpty)
            #expect(try await queue.complete([held]) == [held.id])
        }
    }

    @Test func oneConversationsJobsNeverOverlapAndRunInOrder() async throws {
        try await TestDatabase.withMigrated { database, client in
            let queue = JobQueue(client: client, logger: Self.logger)
            // Three conversations, interleaved, ten messages each, plus jobs with no conversation.
            var jobs: [NewJob] = []
            for index in 0..<10 {
                for conversation in ["a", "b", "c"] {
                    jobs.append(job("test", "\(conversation):\(index)", conversation: "conv:\(conversation)"))
                }
                jobs.append(job("test", "free:\(index)"))
            }
            _ = try await queue.enqueue(jobs)
            let ledger = Ledger()
            let handler: JobHandler = { job, _ in
                let parts = String(buffer: job.payload).split(separator: ":")
                let key = String(parts[0])
                guard key != "free" else { return ledger.ran(job.id) }
                ledger.begin(key, index: Int(parts[1])!)
                try await Task.sleep(for: .milliseconds(Int.random(in: 5...25)))
                ledger.end(key)
                ledger.ran(job.id)
            }
            try await withWorkers(database, count: 3, handlers: ["test": handler], configure: { $0.batchSize = 8 }) {
                try await eventually(timeout: .seconds(60)) { ledger.total >= 40 }
            }
            #expect(ledger.overlaps == 0)
            for key in ["a", "b", "c"] { #expect(ledger.order[key] == Array(0..<10)) }
        }
    }

    @Test func onlyTheHeadOfAConversationIsClaimable() async throws {
        try await TestDatabase.withMigrated { _, client in
            let queue = JobQueue(client: client, logger: Self.logger)
            _ = try await queue.enqueue([job("test", "1", conversation: "c"), job("test", "2", conversation: "c"), job("test", "3", conversation: "c")])
            let first = try await queue.claim(kinds: ["test"], limit: 10, worker: "w", lease: .seconds(30))
            #expect(first.map { String(buffer: $0.payload) } == ["1"])
            #expect(try await queue.claim(kinds: ["test"], limit: 10, worker: "w2", lease: .seconds(30)).isEmpty)
            // A dead head does not block the rest of the conversation.
            #expect(try await queue.fail(first[0], error: "poison", permanent: true) == .dead)
            let second = try await queue.claim(kinds: ["test"], limit: 10, worker: "w", lease: .seconds(30))
            #expect(second.map { String(buffer: $0.payload) } == ["2"])
        }
    }

    @Test func failuresBackOffThenTheJobIsKeptAsDead() async throws {
        try await TestDatabase.withMigrated { _, client in
            let queue = JobQueue(client: client, logger: Self.logger)
            _ = try await queue.enqueue([job("test", "flaky", maxAttempts: 2)])
            let first = try #require(try await queue.claim(kinds: ["test"], limit: 1, worker: "w", lease: .seconds(30)).first)
            #expect(try await queue.fail(first, error: "HTTPClientError") == .retrying)
            // Backing off: not claimable now.
            #expect(try await queue.claim(kinds: ["test"], limit: 1, worker: "w", lease: .seconds(30)).isEmpty)
            #expect(try await count(client, "SELECT count(*) FROM jobs WHERE run_at > now() + interval '500 milliseconds'") == 1)
            try await client.query("UPDATE jobs SET run_at = now()")
            let second = try #require(try await queue.claim(kinds: ["test"], limit: 1, worker: "w", lease: .seconds(30)).first)
            #expect(second.attempt == 2)
            #expect(try await queue.fail(second, error: "HTTPClientError again") == .dead)
            let depth = try await queue.depth()
            #expect(depth.dead == 1 && depth.available == 0 && depth.running == 0)
            var lastError = ""
            for try await text in try await client.query("SELECT last_error FROM jobs").decode(String.self) { lastError = text }
            #expect(lastError == "HTTPClientError again")

            _ = try await queue.enqueue([job("test", "poison")])
            let poison = try #require(try await queue.claim(kinds: ["test"], limit: 1, worker: "w", lease: .seconds(30)).first)
            #expect(try await queue.fail(poison, error: "undecodable payload", permanent: true) == .dead)
        }
    }

    @Test func aDeadInboundJobKeepsNoMessageText() async throws {
        try await TestDatabase.withMigrated { _, client in
            let queue = JobQueue(client: client, logger: Self.logger)
            _ = try await queue.enqueue([job("inbound.message", "customer text CANARY", maxAttempts: 1), job("instagram.token_refresh", "account-id", maxAttempts: 1)])
            // One dies by its last failed attempt, the other by a permanent failure; one more dies by an expired lease.
            for claimed in try await queue.claim(kinds: ["inbound.message", "instagram.token_refresh"], limit: 2, worker: "w", lease: .seconds(30)) {
                #expect(try await queue.fail(claimed, error: "boom") == .dead)
            }
            _ = try await queue.enqueue([job("inbound.postback", "tapped CANARY", maxAttempts: 1)])
            _ = try await queue.claim(kinds: ["inbound.postback"], limit: 1, worker: "w", lease: .seconds(30))
            try await client.query("UPDATE jobs SET locked_until = now() - interval '1 second' WHERE state = 'running'")
            #expect(try await queue.rescueExpired() == 1)
            var payloads: [String: String] = [:]
            for try await (kind, payload, error) in try await client.query("SELECT kind, payload, last_error FROM jobs WHERE state = 'dead'")
                .decode((String, ByteBuffer, String).self)
            {
                payloads[kind] = String(buffer: payload)
                #expect(!error.isEmpty)
            }
            // The customer's words are gone from the dead jobs; other kinds keep their payload for diagnosis.
            #expect(payloads == ["inbound.message": "", "inbound.postback": "", "instagram.token_refresh": "account-id"])
        }
    }

    @Test func backoffGrowsWithJitterAndIsCapped() {
        for attempt in 1...30 {
            let ceiling = min(2.0 * pow(2.0, Double(min(attempt - 1, 20))), 600)
            let delay = Backoff.delay(attempt: attempt)
            let seconds = Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
            #expect(seconds >= ceiling / 2 - 0.001 && seconds <= ceiling + 0.001)
        }
        let samples = Set((0..<50).map { _ in Backoff.delay(attempt: 5) })
        #expect(samples.count > 1)
    }

    @Test func deadJobsAreKeptFourteenDaysAndDedupeKeysSeven() async throws {
        try await TestDatabase.withMigrated { _, client in
            let queue = JobQueue(client: client, logger: Self.logger)
            _ = try await queue.enqueue([job("test", "old", key: "old"), job("test", "recent", key: "recent")])
            for claimed in try await queue.claim(kinds: ["test"], limit: 2, worker: "w", lease: .seconds(30)) {
                try await queue.fail(claimed, error: "x", permanent: true)
            }
            try await client.query("UPDATE jobs SET dead_at = now() - interval '15 days' WHERE dedupe_key = 'old'")
            try await client.query("UPDATE jobs SET dead_at = now() - interval '13 days' WHERE dedupe_key = 'recent'")
            try await client.query("UPDATE job_dedupe SET created_at = now() - interval '8 days' WHERE key = 'old'")
            let purged = try await queue.purge()
            #expect(purged.dead == 1 && purged.dedupeKeys == 1)
            #expect(try await count(client, "SELECT count(*) FROM jobs WHERE dedupe_key = 'recent'") == 1)
            #expect(try await count(client, "SELECT count(*) FROM job_dedupe") == 1)
        }
    }

    @Test func scheduledJobsWaitAndPriorityComesFirst() async throws {
        try await TestDatabase.withMigrated { _, client in
            let queue = JobQueue(client: client, logger: Self.logger)
            _ = try await queue.enqueue([job("test", "later", runAt: Date().addingTimeInterval(3600)), job("test", "low"), job("test", "high", priority: 5)])
            let depth = try await queue.depth()
            #expect(depth.scheduled == 1 && depth.available == 2)
            let first = try await queue.claim(kinds: ["test"], limit: 1, worker: "w", lease: .seconds(30))
            #expect(first.map { String(buffer: $0.payload) } == ["high"])
            let rest = try await queue.claim(kinds: ["test"], limit: 10, worker: "w", lease: .seconds(30))
            #expect(rest.map { String(buffer: $0.payload) } == ["low"])
            // Kinds the worker does not handle are left alone.
            _ = try await queue.enqueue([job("other")])
            #expect(try await queue.claim(kinds: ["test"], limit: 10, worker: "w", lease: .seconds(30)).isEmpty)
        }
    }

    @Test func anIdleWorkerWakesOnNotifyNotOnThePoll() async throws {
        try await TestDatabase.withMigrated { database, client in
            let queue = JobQueue(client: client, logger: Self.logger)
            let ledger = Ledger()
            try await withWorkers(
                database, count: 1, handlers: ["test": { job, _ in ledger.ran(job.id) }],
                configure: { $0.pollInterval = .seconds(300); $0.rescueInterval = .seconds(300) }
            ) {
                // Let the worker find the queue empty and go idle.
                try await Task.sleep(for: .seconds(1))
                _ = try await queue.enqueue([job()])
                // With a five-minute poll, only the notification can deliver it.
                try await eventually(timeout: .seconds(30)) { ledger.total == 1 }
            }
        }
    }

    /// A worker cancelled outside a graceful shutdown (as a test or a failed start stops it) ends with its LISTEN session.
    /// The session used to run in a task the cancellation did not reach, so the worker lived on until the session's
    /// deadline (5 minutes): CI's `make test` stalled on such a worker. A liveness bound, not a timing goal.
    @Test func aCancelledWorkerStopsWithItsListeningSession() async throws {
        try await TestDatabase.withMigrated { database, client in
            let listening = { () async throws -> Int in
                var n = 0
                for try await count in try await client.query(
                    "SELECT count(*)::int FROM pg_stat_activity WHERE query LIKE 'LISTEN %' || current_schema() || '%' AND state = 'idle'"
                ).decode(Int.self) { n = count }
                return n
            }
            let stopped = Box(false)
            let worker = Task {
                try? await database.withClient { workerClient in
                    let queue = JobQueue(client: workerClient, logger: Self.logger)
                    var configuration = JobWorkerConfiguration()
                    configuration.pollInterval = .seconds(300)
                    try await JobWorker(queue: queue, handlers: ["test": { _, _ in }], configuration: configuration, logger: Self.logger).run()
                }
                stopped.withLock { $0 = true }
            }
            try await eventually("the worker listening") { try await listening() == 1 }
            worker.cancel()
            try await eventually("the cancelled worker stopped", timeout: .seconds(60)) { stopped.withLock { $0 } }
            try await eventually("its LISTEN session closed") { try await listening() == 0 }
        }
    }

    @Test func metricsCountEnqueuesOutcomesLatencyAndDepth() async throws {
        try await TestDatabase.withMigrated { _, client in
            let metrics = TestMetrics()
            let queue = JobQueue(client: client, logger: Self.logger, metricsFactory: metrics)
            _ = try await queue.enqueue([job(key: "m1"), job(key: "m1"), job("test", "y")])
            #expect(metrics.counterTotal(label: "flowtalk_jobs_enqueued_total", dimensions: [("kind", "test")]) == 2)
            #expect(metrics.counterTotal(label: "flowtalk_jobs_duplicates_total") == 1)
            let claimed = try await queue.claim(kinds: ["test"], limit: 2, worker: "w", lease: .seconds(30))
            #expect(try metrics.expectTimer("flowtalk_job_start_latency_seconds", [("kind", "test")]).values.count == 2)
            try await queue.complete([claimed[0]])
            try await queue.fail(claimed[1], error: "x", permanent: true)
            #expect(metrics.counterTotal(label: "flowtalk_jobs_outcomes_total", dimensions: [("kind", "test"), ("outcome", "completed")]) == 1)
            #expect(metrics.counterTotal(label: "flowtalk_jobs_outcomes_total", dimensions: [("kind", "test"), ("outcome", "dead")]) == 1)
            _ = try await queue.enqueue([job("test", "waiting")])
            try await client.query("UPDATE jobs SET run_at = now() - interval '42 seconds', created_at = now() - interval '42 seconds' WHERE state = 'available'")
            let depth = try await queue.sampleDepth()
            #expect(depth.available == 1 && depth.dead == 1)
            #expect(depth.oldestAvailableAgeSeconds >= 42)
            #expect(try metrics.expectGauge("flowtalk_jobs_depth", [("state", "dead")]).lastValue == 1)
            #expect((try metrics.expectGauge("flowtalk_jobs_oldest_available_age_seconds").lastValue ?? 0) >= 42)
        }
    }

    @Test func gracefulShutdownFinishesTheJobInHandAndTakesNoMore() async throws {
        try await TestDatabase.withMigrated { _, client in
            let queue = JobQueue(client: client, logger: Self.logger)
            let started = Box(0)
            let finished = Box(0)
            var configuration = JobWorkerConfiguration()
            configuration.loops = 1
            configuration.batchSize = 1
            configuration.pollInterval = .milliseconds(100)
            let worker = JobWorker(
                queue: queue,
                handlers: ["test": { _, _ in
                    started.withLock { $0 += 1 }
                    try await Task.sleep(for: .milliseconds(800))
                    finished.withLock { $0 += 1 }
                }],
                configuration: configuration, logger: Self.logger)
            _ = try await queue.enqueue([job("test", "1"), job("test", "2"), job("test", "3")])
            try await testGracefulShutdown { trigger in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await worker.run() }
                    try await eventually(timeout: .seconds(30)) { started.withLock { $0 } == 1 }
                    trigger.triggerGracefulShutdown()
                    try await group.waitForAll()
                }
            }
            // The job in hand ran to the end and was completed; the other two were never taken.
            #expect(started.withLock { $0 } == 1)
            #expect(finished.withLock { $0 } == 1)
            let depth = try await queue.depth()
            #expect(depth.available == 2 && depth.running == 0)
        }
    }
}
