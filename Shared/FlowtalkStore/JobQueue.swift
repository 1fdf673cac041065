@_exported import FlowtalkContracts
import Foundation
import Logging
import Metrics
import NIOCore
import PostgresNIO

/// A job a worker holds: it must complete, fail or heartbeat it before `lease` runs out.
package struct ClaimedJob: Sendable {
    package let id: Int64
    package let kind: String
    package let payload: ByteBuffer
    /// 1 on the first run.
    package let attempt: Int32
    package let maxAttempts: Int32
    /// Fences every later write: a worker whose lease was taken over writes nothing.
    package let leaseID: UUID
    /// Seconds from when the job became due to when this claim started it.
    package let waitSeconds: Double
    /// It has a serialization key: the next job with that key waits until this one is deleted.
    package var inSequence = false
}

/// Counts by state and the age of the oldest due job.
package struct QueueDepth: Sendable, Equatable {
    package var available = 0
    package var scheduled = 0
    package var running = 0
    package var dead = 0
    package var oldestAvailableAgeSeconds: Double = 0
}

/// What happened to a failed job.
package enum FailureOutcome: String, Sendable {
    case retrying, dead, leaseLost = "lease_lost"
}

/// The PostgreSQL job queue of DESIGN §4: the one table services hand work through.
package struct JobQueue: Sendable {
    /// The prefix of the channel `enqueue` notifies and idle workers listen on. The schema is appended, so deployments
    /// (or test runs) sharing one database in different schemas do not wake each other.
    package static let channelPrefix = "flowtalk_jobs:"

    /// The notification channel for the schema `connection` works in.
    package static func channel(on connection: DatabaseConnection, logger: Logger) async throws -> String {
        var schema = "public"
        for try await name in try await connection.collect("SELECT current_schema()::text", logger: logger).decode(String.self) { schema = name }
        return channelPrefix + schema
    }

    package let client: Database
    package let logger: Logger
    let metrics: QueueMetrics
    /// Jobs of kinds with this prefix carry a customer's message: when one dies its payload is emptied, so the text is
    /// kept only in the activity log (the privacy policy), not for the 14 days a dead job stays for diagnosis.
    package static let privatePayloadPrefix = "inbound."

    package init(client: PostgresClient, logger: Logger, metricsFactory: (any MetricsFactory)? = nil) {
        self.init(client: Database(client), logger: logger, metricsFactory: metricsFactory)
    }

    package init(client database: Database, logger: Logger, metricsFactory: (any MetricsFactory)? = nil) {
        self.client = database
        self.logger = logger
        self.metrics = QueueMetrics(factory: metricsFactory ?? MetricsSystem.factory)
    }

    /// Enqueues jobs in one statement in its own transaction, and returns only once the commit is confirmed (a single
    /// statement's `CommandComplete` comes before its implicit commit, so it proves nothing: issue #10); returns how many
    /// were new (the rest were duplicates).
    @discardableResult
    package func enqueue(_ jobs: [NewJob]) async throws -> Int {
        guard !jobs.isEmpty else { return 0 }
        return try await client.withTransaction(logger: logger) { [self] in try await enqueue(jobs, on: $0) }
    }

    /// Enqueues jobs in one statement on `connection`, so it joins the caller's transaction. The statement sends one
    /// `NOTIFY` when it inserted anything; PostgreSQL delivers it at commit, so listeners never wake before the rows exist.
    @discardableResult
    package func enqueue(_ jobs: [NewJob], on connection: DatabaseConnection) async throws -> Int {
        guard !jobs.isEmpty else { return 0 }
        let statement = EnqueueStatement(jobs: jobs)
        var inserted = 0
        var kinds: [String: Int] = [:]
        for kind in try await connection.execute(statement, logger: logger) {
            inserted += 1
            kinds[kind, default: 0] += 1
        }
        for (kind, count) in kinds { metrics.enqueued(kind: kind, count: count) }
        if inserted < jobs.count { metrics.duplicates(jobs.count - inserted) }
        return inserted
    }

    /// Claims up to `limit` due jobs of `kinds` for `worker`, leasing them for `lease`.
    ///
    /// Runs as one statement: a `FOR UPDATE SKIP LOCKED` selection fenced in a materialised CTE, then the update. A job
    /// with a serialization key is taken only when no earlier job with that key is still waiting or running, so one
    /// conversation's jobs run one at a time, in order. Its cost depends on the batch, not on the backlog (the
    /// `EXPLAIN` table in docs/architecture.md).
    package func claim(kinds: [String], limit: Int, worker: String, lease: Duration) async throws -> [ClaimedJob] {
        let leaseID = UUID()
        let leaseMs = lease.milliseconds
        // flowtalk_claim_batch (migration 28; flowtalk_claim of migration 9 before) pins the plan: an index walk in claim
        // order that stops at the limit.
        let rows = try await client.query(
            "SELECT * FROM flowtalk_claim_batch(\(kinds)::text[], \(Int32(limit)), \(worker), \(leaseMs), \(leaseID))", logger: logger)
        var claimed: [ClaimedJob] = []
        for try await (id, kind, payload, attempt, maxAttempts, wait, inSequence) in rows.decode(
            (Int64, String, ByteBuffer, Int32, Int32, Double, Bool).self)
        {
            claimed.append(ClaimedJob(
                id: id, kind: kind, payload: payload, attempt: attempt, maxAttempts: maxAttempts, leaseID: leaseID, waitSeconds: wait,
                inSequence: inSequence))
            if attempt == 1 { metrics.started(kind: kind, waitSeconds: wait) }
        }
        return claimed
    }

    /// Extends the leases of `jobs`; returns the ids still held (a missing id was taken over by another worker).
    package func heartbeat(_ jobs: [ClaimedJob], lease: Duration) async throws -> Set<Int64> {
        guard !jobs.isEmpty else { return [] }
        let leaseMs = Int64(lease.components.seconds * 1000)
        let rows = try await client.query(
            """
            UPDATE jobs SET locked_until = now() + \(leaseMs) * interval '1 millisecond'
            FROM unnest(\(jobs.map(\.id))::int8[], \(jobs.map(\.leaseID))::uuid[]) AS held(id, lease_id)
            WHERE jobs.id = held.id AND jobs.lease_id = held.lease_id AND jobs.state = 'running'
            RETURNING jobs.id
            """, logger: logger)
        var held = Set<Int64>()
        for try await id in rows.decode(Int64.self) { held.insert(id) }
        return held
    }

    /// Deletes finished jobs in one statement; returns the ids this worker still held (others had lost their lease).
    @discardableResult
    package func complete(_ jobs: [ClaimedJob]) async throws -> Set<Int64> {
        guard !jobs.isEmpty else { return [] }
        let rows = try await client.query(
            """
            DELETE FROM jobs USING unnest(\(jobs.map(\.id))::int8[], \(jobs.map(\.leaseID))::uuid[]) AS done(id, lease_id)
            WHERE jobs.id = done.id AND jobs.lease_id = done.lease_id AND jobs.state = 'running'
            RETURNING jobs.id, jobs.kind
            """, logger: logger)
        var deleted = Set<Int64>()
        for try await (id, kind) in rows.decode((Int64, String).self) {
            deleted.insert(id)
            metrics.outcome(kind: kind, "completed")
        }
        for job in jobs where !deleted.contains(job.id) { metrics.outcome(kind: job.kind, FailureOutcome.leaseLost.rawValue) }
        return deleted
    }

    /// Removes an account's queued upkeep (its token refresh, its Ice Breakers' sync), in the caller's transaction: the
    /// account was deleted or disconnected.
    package func cancel(account accountID: UUID, on connection: DatabaseConnection) async throws {
        try await connection.query(
            """
            DELETE FROM jobs WHERE starts_with(serialization_key, \(QueueKeys.accountJobs(accountID)))
               OR (kind = ANY(\([IceBreakersSyncJob.kind, TokenRefreshJob.kind])) AND payload = \(ByteBuffer(string: accountID.uuidString)))
            """, logger: logger)
    }

    /// Removes the queued events of every conversation of an Instagram account, in the caller's transaction: its data
    /// was erased.
    package func cancel(conversationsOf instagramUserID: String, on connection: DatabaseConnection) async throws {
        try await connection.query(
            "DELETE FROM jobs WHERE starts_with(serialization_key, \(QueueKeys.conversations(instagramUserID: instagramUserID)))", logger: logger)
    }

    /// Records a failure: the job runs again after `retryAfter` (or exponential backoff with jitter), or is kept as dead
    /// with `error` once its attempts are used up or `permanent` is set.
    @discardableResult
    package func fail(_ job: ClaimedJob, error: String, permanent: Bool = false, retryAfter: Duration? = nil) async throws -> FailureOutcome {
        let delay = retryAfter ?? Backoff.delay(attempt: Int(job.attempt))
        let delayMs = Int64(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)
        let message = String(error.prefix(500))
        let rows = try await client.query(
            """
            UPDATE jobs SET
                state = CASE WHEN \(permanent) OR attempts >= max_attempts THEN 'dead' WHEN \(delayMs) > 0 THEN 'scheduled' ELSE 'available' END,
                dead_at = CASE WHEN \(permanent) OR attempts >= max_attempts THEN now() END,
                payload = CASE WHEN (\(permanent) OR attempts >= max_attempts) AND starts_with(kind, \(Self.privatePayloadPrefix)) THEN ''::bytea
                               ELSE payload END,
                run_at = now() + \(delayMs) * interval '1 millisecond',
                last_error = \(message), locked_until = NULL, locked_by = NULL, lease_id = NULL
            WHERE id = \(job.id) AND lease_id = \(job.leaseID) AND state = 'running'
            RETURNING state
            """, logger: logger)
        var outcome = FailureOutcome.leaseLost
        for try await state in rows.decode(String.self) { outcome = state == "dead" ? .dead : .retrying }
        metrics.outcome(kind: job.kind, outcome.rawValue)
        if outcome == .dead {
            logger.error("Job dead", metadata: ["job.id": "\(job.id)", "job.kind": "\(job.kind)", "job.attempt": "\(job.attempt)"])
        }
        return outcome
    }

    /// Puts running jobs whose lease ran out back in line (or keeps them as dead when their attempts are used up).
    @discardableResult
    package func rescueExpired() async throws -> Int {
        let rows = try await client.query(
            """
            UPDATE jobs SET
                state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'available' END,
                dead_at = CASE WHEN attempts >= max_attempts THEN now() END,
                payload = CASE WHEN attempts >= max_attempts AND starts_with(kind, \(Self.privatePayloadPrefix)) THEN ''::bytea ELSE payload END,
                run_at = now(), last_error = 'lease expired', locked_until = NULL, locked_by = NULL, lease_id = NULL
            WHERE id IN (SELECT id FROM jobs WHERE state = 'running' AND locked_until < now() FOR UPDATE SKIP LOCKED)
            RETURNING kind, state
            """, logger: logger)
        var count = 0
        for try await (kind, state) in rows.decode((String, String).self) {
            count += 1
            metrics.outcome(kind: kind, state == "dead" ? "dead" : "lease_expired")
        }
        if count > 0 { logger.notice("Expired leases rescued", metadata: ["job.count": "\(count)"]) }
        return count
    }

    /// Deletes dead jobs older than `deadRetention` and dedupe keys older than `dedupeRetention`, in bounded batches.
    package func purge(deadRetention: Duration = .seconds(14 * 86_400), dedupeRetention: Duration = .seconds(7 * 86_400), batch: Int = 5_000)
        async throws -> (dead: Int, dedupeKeys: Int)
    {
        let deadSeconds = deadRetention.components.seconds
        let dedupeSeconds = dedupeRetention.components.seconds
        let dead = try await client.deleteInBatches(
            """
            WITH gone AS (DELETE FROM jobs WHERE id IN (
                SELECT id FROM jobs WHERE state = 'dead' AND dead_at < now() - \(deadSeconds) * interval '1 second' LIMIT \(batch))
                RETURNING 1)
            SELECT count(*) FROM gone
            """, batch: batch, logger: logger)
        let keys = try await client.deleteInBatches(
            """
            WITH gone AS (DELETE FROM job_dedupe WHERE key IN (
                SELECT key FROM job_dedupe WHERE created_at < now() - \(dedupeSeconds) * interval '1 second' LIMIT \(batch))
                RETURNING 1)
            SELECT count(*) FROM gone
            """, batch: batch, logger: logger)
        return (dead, keys)
    }

    /// Counts by state and the age of the oldest due job (for metrics and tests).
    package func depth() async throws -> QueueDepth {
        let rows = try await client.query(
            """
            SELECT count(*) FILTER (WHERE state IN ('available', 'scheduled') AND run_at <= now()),
                   count(*) FILTER (WHERE state = 'scheduled' OR (state = 'available' AND run_at > now())),
                   count(*) FILTER (WHERE state = 'running'),
                   count(*) FILTER (WHERE state = 'dead'),
                   COALESCE(EXTRACT(EPOCH FROM now() - min(run_at) FILTER (WHERE state IN ('available', 'scheduled') AND run_at <= now())), 0)::float8
            FROM jobs
            """, logger: logger)
        var depth = QueueDepth()
        for try await (available, scheduled, running, dead, age) in rows.decode((Int, Int, Int, Int, Double).self) {
            depth = QueueDepth(available: available, scheduled: scheduled, running: running, dead: dead, oldestAvailableAgeSeconds: age)
        }
        return depth
    }

    /// Reads the depth and records it in the depth gauges.
    @discardableResult
    package func sampleDepth() async throws -> QueueDepth {
        let depth = try await depth()
        metrics.record(depth)
        return depth
    }

}

/// Exponential backoff with full jitter: attempt n waits a random time up to min(cap, base·2^(n-1)).
package enum Backoff {
    package static func delay(attempt: Int, base: Duration = .seconds(2), cap: Duration = .seconds(600)) -> Duration {
        let exponent = min(max(attempt - 1, 0), 20)
        let ceiling = min(base * (1 << exponent), cap)
        let ms = Int64(ceiling.components.seconds * 1000)
        // Never less than half the ceiling, so a retry storm still spreads out but does not come back instantly.
        return .milliseconds(Int64.random(in: (ms / 2)...max(ms / 2, ms)))
    }
}

/// The enqueue statement, prepared once per connection: under load ingest runs it hundreds of times a second, and
/// planning this CTE each time cost more than the inserts themselves.
///
/// Duplicates are dropped twice over: the dedupe ledger remembers keys after their jobs are gone, and the partial
/// unique index on `jobs.dedupe_key` keeps only the first of two equal keys inside one batch.
struct EnqueueStatement: PostgresPreparedStatement {
    typealias Row = String

    static let sql = """
        WITH input AS (
            SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[], $4::text[], $5::int2[], $6::timestamptz[], $7::int4[])
                WITH ORDINALITY AS t(kind, payload, dedupe_key, serialization_key, priority, run_at, max_attempts, ord)
        ),
        fresh AS (
            INSERT INTO job_dedupe (key) SELECT dedupe_key FROM input WHERE dedupe_key <> ''
            ON CONFLICT DO NOTHING RETURNING key
        ),
        ins AS (
            INSERT INTO jobs (kind, payload, dedupe_key, serialization_key, priority, run_at, max_attempts, state)
            SELECT kind, payload, NULLIF(dedupe_key, ''), NULLIF(serialization_key, ''), priority, GREATEST(now(), run_at), max_attempts,
                   CASE WHEN run_at > now() THEN 'scheduled' ELSE 'available' END
            FROM input WHERE dedupe_key = '' OR dedupe_key IN (SELECT key FROM fresh)
            ORDER BY ord
            ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
            RETURNING kind
        ),
        notified AS (SELECT pg_notify('\(JobQueue.channelPrefix)' || current_schema(), '') FROM (SELECT 1 FROM ins LIMIT 1) AS any_row)
        SELECT kind || repeat('', (SELECT count(*) FROM notified)::int) FROM ins
        """

    let jobs: [NewJob]

    func makeBindings() throws -> PostgresBindings {
        let epoch = Date(timeIntervalSince1970: 0)
        var bindings = PostgresBindings(capacity: 7)
        bindings.append(jobs.map(\.kind))
        bindings.append(jobs.map(\.payload))
        bindings.append(jobs.map { $0.dedupeKey ?? "" })
        bindings.append(jobs.map { $0.serializationKey ?? "" })
        bindings.append(jobs.map(\.priority))
        bindings.append(jobs.map { $0.runAt ?? epoch })
        bindings.append(jobs.map(\.maxAttempts))
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> String { try row.decode(String.self) }
}
