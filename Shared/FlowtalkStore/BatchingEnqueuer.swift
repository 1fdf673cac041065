import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Why a submission was not queued.
package enum EnqueueError: Error {
    /// The enqueuer is not running (starting up or shutting down).
    case notRunning
}

/// Group commit for concurrent producers (DESIGN §4; ingest's webhook path).
///
/// Each submission waits until its jobs are committed. Submissions that arrive while a flush is in progress are
/// gathered and written together by the next flush in one statement (one commit, one `NOTIFY`), so under load many
/// requests share a commit instead of paying one each, and an idle system adds no delay at all. If a combined write
/// fails, each submission is retried on its own so one bad delivery cannot fail its neighbours.
package final class BatchingEnqueuer: Service, Sendable {
    private struct Pending {
        let jobs: [NewJob]
        let continuation: CheckedContinuation<Void, any Error>
    }
    private struct State {
        var running = false
        var pending: [Pending] = []
        var idle: [CheckedContinuation<Bool, Never>] = []
    }

    private let queue: JobQueue
    private let flushers: Int
    private let maxBatchJobs: Int
    private let logger: Logger
    private let state = Mutex(State())
    private let batchSize: Recorder

    /// An enqueuer with `flushers` concurrent writers, each writing up to `maxBatchJobs` jobs per statement.
    package init(queue: JobQueue, flushers: Int = 2, maxBatchJobs: Int = 2_000, logger: Logger, metricsFactory: (any MetricsFactory)? = nil) {
        self.queue = queue
        self.flushers = max(1, flushers)
        self.maxBatchJobs = max(1, maxBatchJobs)
        self.logger = logger
        self.batchSize = Recorder(label: "flowtalk_enqueue_batch_submissions", factory: metricsFactory ?? MetricsSystem.factory)
    }

    /// Returns once `jobs` are committed (duplicates are dropped silently); throws when they were not.
    package func submit(_ jobs: [NewJob]) async throws {
        guard !jobs.isEmpty else { return }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let (accepted, wake) = state.withLock { state -> (Bool, CheckedContinuation<Bool, Never>?) in
                guard state.running else { return (false, nil) }
                state.pending.append(Pending(jobs: jobs, continuation: continuation))
                return (true, state.idle.popLast())
            }
            if !accepted { continuation.resume(throwing: EnqueueError.notRunning) }
            wake?.resume(returning: true)
        }
    }

    /// Flushes until graceful shutdown or cancellation (a sibling service that fails cancels the group: the process must
    /// then exit, not wait here for a shutdown that never comes). What was submitted before either is still written.
    package func run() async throws {
        state.withLock { $0.running = true }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<flushers { group.addTask { await self.flushLoop() } }
                }
            } onGracefulShutdown: {
                self.stop()
            }
        } onCancel: {
            self.stop()
        }
    }

    /// No new submissions; idle flushers end once the pending ones are written.
    private func stop() {
        let idle = state.withLock { state in
            state.running = false
            defer { state.idle = [] }
            return state.idle
        }
        for waiter in idle { waiter.resume(returning: false) }
    }

    private func flushLoop() async {
        while true {
            let batch = state.withLock { state -> [Pending] in
                var taken: [Pending] = []
                var count = 0
                while let first = state.pending.first, taken.isEmpty || count + first.jobs.count <= maxBatchJobs {
                    taken.append(state.pending.removeFirst())
                    count += first.jobs.count
                }
                return taken
            }
            if batch.isEmpty {
                let keepGoing = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                    let decision = state.withLock { state -> Bool? in
                        if !state.pending.isEmpty { return true }
                        if !state.running { return false }
                        state.idle.append(continuation)
                        return nil
                    }
                    if let decision { continuation.resume(returning: decision) }
                }
                if !keepGoing { return }
                continue
            }
            await flush(batch)
        }
    }

    private func flush(_ batch: [Pending]) async {
        batchSize.record(batch.count)
        do {
            try await queue.enqueue(batch.flatMap(\.jobs))
            for item in batch { item.continuation.resume() }
        } catch {
            // An unreachable database fails every submission at once: retrying each one would hold them all for one
            // deadline apiece (issue #10: an ingest replica stopped answering after a PostgreSQL restart).
            guard batch.count > 1, !isDatabaseUnavailable(error) else {
                logger.warning("Enqueue failed", metadata: ["error.type": "\(type(of: error))", "job.submissions": "\(batch.count)"])
                for item in batch { item.continuation.resume(throwing: error) }
                return
            }
            guard batch.count > 1 else {
                logger.warning("Enqueue failed", metadata: ["error.type": "\(type(of: error))"])
                batch[0].continuation.resume(throwing: error)
                return
            }
            for item in batch {
                do {
                    try await queue.enqueue(item.jobs)
                    item.continuation.resume()
                } catch {
                    logger.warning("Enqueue failed", metadata: ["error.type": "\(type(of: error))"])
                    item.continuation.resume(throwing: error)
                }
            }
        }
    }
}
