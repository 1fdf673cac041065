import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Tells the worker how a failed job should be treated; any other error retries with backoff.
package enum JobFailure: Error, CustomStringConvertible {
    /// Do not retry: keep the job as dead with this reason.
    case permanent(String)
    /// Retry after a given delay (e.g. a rate limit said when).
    case retryAfter(Duration, String)

    package var description: String {
        switch self {
        case .permanent(let reason): reason
        case .retryAfter(_, let reason): reason
        }
    }
}

/// Runs one kind of job. Handlers must be idempotent: a job whose worker died is run again after its lease.
package typealias JobHandler = @Sendable (ClaimedJob, Logger) async throws -> Void

/// How a worker pool behaves.
package struct JobWorkerConfiguration: Sendable {
    /// Concurrent claim loops.
    package var loops = 4
    /// Jobs one loop claims and runs together.
    package var batchSize = 8
    package var lease: Duration = .seconds(60)
    /// How often held leases are extended (well inside `lease`).
    package var heartbeat: Duration = .seconds(20)
    /// How long an idle loop waits for a notification before it looks anyway.
    package var pollInterval: Duration = .seconds(2)
    /// How often expired leases are rescued.
    package var rescueInterval: Duration = .seconds(5)
    /// How long a handler may run before it is abandoned and its job retried with `handler_timeout`; its lease is never
    /// renewed past this.
    package var handlerTimeout: Duration = .seconds(120)
    /// Shorter or longer limits for some kinds.
    package var handlerTimeouts: [String: Duration] = [:]
    /// How long one listening session lasts before it is opened anew (a half-open connection cannot outlive it).
    package var listenSession: Duration = .seconds(300)
    /// Name written to `locked_by`.
    package var workerID = "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"

    package init() {}

    package func timeout(for kind: String) -> Duration { handlerTimeouts[kind] ?? handlerTimeout }
}

/// A pool of queue workers: claims jobs in batches, runs their handlers with the lease kept alive by a heartbeat,
/// hands the finished ones to one completion task that deletes every loop's in one statement, and wakes on `NOTIFY`
/// (polling as a fallback). On graceful shutdown it stops claiming, finishes what it holds and deletes it.
package struct JobWorker: Service {
    let queue: JobQueue
    let handlers: [String: JobHandler]
    let configuration: JobWorkerConfiguration
    let ready: SchemaGate?
    let logger: Logger
    let doorbell = Doorbell()

    package init(queue: JobQueue, handlers: [String: JobHandler], configuration: JobWorkerConfiguration = .init(), ready: SchemaGate? = nil, logger: Logger) {
        self.queue = queue
        self.handlers = handlers
        self.configuration = configuration
        self.ready = ready
        self.logger = logger
    }

    package func run() async throws {
        if let ready { try? await cancelWhenGracefulShutdown { await ready.wait() } }
        guard ready?.isOpen ?? true, !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
        // Every child ends on its own at graceful shutdown; a claim loop first finishes the batch in hand, and the
        // completions end once every loop has ended and its last batch is deleted, so nothing here cancels its siblings.
        let finished = FinishedJobs()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.listen() }
            group.addTask { await self.rescueLoop() }
            group.addTask { await self.completeLoop(finished) }
            group.addTask {
                await withTaskGroup(of: Void.self) { loops in
                    for loop in 0..<configuration.loops {
                        loops.addTask { await self.claimLoop(loop, finished: finished) }
                    }
                }
                finished.close()
            }
        }
    }

    private func claimLoop(_ loop: Int, finished: FinishedJobs) async {
        let kinds = Array(handlers.keys)
        let worker = "\(configuration.workerID)/\(loop)"
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let seen = doorbell.generation
            let jobs: [ClaimedJob]
            do {
                jobs = try await queue.claim(kinds: kinds, limit: configuration.batchSize, worker: worker, lease: configuration.lease)
            } catch {
                logger.warning("Claim failed", metadata: ["error.type": "\(type(of: error))"])
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: configuration.pollInterval) }
                continue
            }
            if jobs.isEmpty {
                try? await cancelWhenGracefulShutdown { await doorbell.wait(after: seen, timeout: configuration.pollInterval) }
                continue
            }
            // Each succeeded job is deleted by the completions, together with other loops' (FinishedJobs); a job of a
            // conversation is waited for, so that conversation's next job can be in the next claim.
            let inSequence = await run(jobs, finished: finished)
            if !inSequence.isEmpty { await finished.waitUntilDeleted(inSequence, timeout: .seconds(5)) }
            // A full batch means more may be waiting; look again at once.
        }
    }

    /// Runs a claimed batch to the end, even during shutdown: a job in hand is finished, not abandoned, unless its
    /// handler runs past its deadline (its job then fails with `handler_timeout` at once, and the handler, cancelled,
    /// is left to end by itself). One watchdog task per batch keeps the deadlines and the heartbeat, which renews only
    /// the leases of handlers still inside their deadline. Failures are recorded here; each job that succeeded is handed
    /// to `finished` as it ends. Returns those of them that have a serialization key.
    func run(_ jobs: [ClaimedJob], finished: FinishedJobs) async -> Set<Int64> {
        let clock = ContinuousClock()
        let started = clock.now
        let batch = BatchRun(jobs)
        var tasks: [Int64: Task<Void, Never>] = [:]
        for job in jobs where tasks[job.id] == nil {
            tasks[job.id] = Task { [handlers, logger] in
                guard let handler = handlers[job.kind] else {
                    batch.deliver(job, JobFailure.permanent("no handler for kind"))
                    return
                }
                var logger = logger
                logger[metadataKey: "job.id"] = "\(job.id)"
                logger[metadataKey: "job.kind"] = "\(job.kind)"
                do {
                    try await handler(job, logger)
                    batch.deliver(job, nil)
                } catch {
                    batch.deliver(job, error)
                }
            }
        }
        let handlerTasks = tasks
        let watchdog = Task { await self.watch(batch, started: started, clock: clock, tasks: handlerTasks) }
        var inSequence = Set<Int64>()
        await withTaskCancellationHandler {
            while let (job, error) = await batch.next() {
                guard let error else {
                    // Handed over at once: its lease is no longer renewed, so it must not wait for the batch's end.
                    finished.add([job])
                    if job.inSequence { inSequence.insert(job.id) }
                    continue
                }
                await record(error, for: job)
            }
        } onCancel: {
            for task in handlerTasks.values { task.cancel() }
        }
        watchdog.cancel()
        return inSequence
    }

    /// A batch's deadlines and heartbeat: sleeps until the next of either, fails the jobs past their deadline (and
    /// cancels their handlers), renews the leases of the others every `heartbeat`; ends when every job has an outcome.
    /// A renewal runs in a task of its own (one after the other), so a slow database never delays a deadline.
    private func watch(_ batch: BatchRun, started: ContinuousClock.Instant, clock: ContinuousClock, tasks: [Int64: Task<Void, Never>]) async {
        var beat = started + configuration.heartbeat
        var renewal: Task<Void, Never>?
        defer { renewal?.cancel() }
        while !Task.isCancelled {
            let waiting = batch.waiting
            guard let deadline = waiting.map({ started + configuration.timeout(for: $0.kind) }).min() else { return }
            do { try await clock.sleep(until: min(beat, deadline)) } catch { return }
            let now = clock.now
            for job in batch.waiting where started + configuration.timeout(for: job.kind) <= now {
                guard batch.deliver(job, HandlerTimeout(limit: configuration.timeout(for: job.kind))) else { continue }
                logger.warning("Handler timed out", metadata: ["job.id": "\(job.id)", "job.kind": "\(job.kind)", "job.reason": "handler_timeout"])
                tasks[job.id]?.cancel()
            }
            guard now >= beat else { continue }
            beat = now + configuration.heartbeat
            let previous = renewal
            renewal = Task {
                await previous?.value
                await self.renew(batch)
            }
        }
    }

    /// Extends the leases of a batch's jobs still inside their deadline; a job whose lease was lost is no longer renewed.
    private func renew(_ batch: BatchRun) async {
        let held = batch.renewable
        if held.isEmpty || Task.isCancelled { return }
        guard let kept = try? await queue.heartbeat(held, lease: configuration.lease) else { return }
        for job in held where !kept.contains(job.id) {
            logger.warning("Lease lost", metadata: ["job.id": "\(job.id)", "job.kind": "\(job.kind)"])
            batch.stopRenewing(job.id)
        }
    }

    private func record(_ error: any Error, for job: ClaimedJob) async {
        let description: String
        var permanent = false
        var retryAfter: Duration?
        switch error {
        case JobFailure.permanent(let reason):
            description = reason
            permanent = true
        case JobFailure.retryAfter(let delay, let reason):
            description = reason
            retryAfter = delay
        case let timeout as HandlerTimeout:
            description = timeout.description
        default:
            // The type only: an error's text could carry a customer's words.
            description = String(describing: type(of: error))
        }
        do {
            let outcome = try await queue.fail(job, error: description, permanent: permanent, retryAfter: retryAfter)
            logger.notice("Job failed", metadata: ["job.id": "\(job.id)", "job.kind": "\(job.kind)", "job.outcome": "\(outcome.rawValue)"])
        } catch {
            logger.error("Recording a job failure failed", metadata: ["job.id": "\(job.id)", "error.type": "\(type(of: error))"])
        }
    }

    private func listen() async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                // One session at a time, bounded: when the connection dies (or turns half-open) the session ends with
                // it, and the next one starts on a fresh connection.
                try await queue.client.withConnection(timeout: configuration.listenSession) { [logger, doorbell] connection in
                    let channel = try await JobQueue.channel(on: connection, logger: logger)
                    try await connection.listen(on: channel, logger: logger) {
                        // Anything enqueued before LISTEN took effect would otherwise wait for the next poll.
                        doorbell.ring()
                    } onNotification: {
                        doorbell.ring()
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.notice("Job listener reconnecting", metadata: ["error.type": "\(type(of: error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
        }
    }

    private func rescueLoop() async {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if (try? await queue.rescueExpired()) ?? 0 > 0 { doorbell.ring() }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: configuration.rescueInterval) }
        }
    }
}

/// Samples queue depth into gauges and purges old dead jobs and dedupe keys, periodically.
package struct QueueMaintenance: Service {
    let queue: JobQueue
    let interval: Duration
    let ready: SchemaGate?

    package init(queue: JobQueue, interval: Duration = .seconds(15), ready: SchemaGate? = nil) {
        self.queue = queue
        self.interval = interval
        self.ready = ready
    }

    package func run() async throws {
        if let ready { try? await cancelWhenGracefulShutdown { await ready.wait() } }
        guard ready?.isOpen ?? true else { return }
        var lastPurge = ContinuousClock.now - .seconds(3600)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            _ = try? await queue.sampleDepth()
            if ContinuousClock.now - lastPurge > .seconds(3600) {
                if let purged = try? await queue.purge() {
                    lastPurge = .now
                    queue.logger.info("Queue purged", metadata: ["job.dead_deleted": "\(purged.dead)", "job.dedupe_deleted": "\(purged.dedupeKeys)"])
                }
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
