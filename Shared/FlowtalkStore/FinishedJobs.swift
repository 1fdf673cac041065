import Logging
import Synchronization

/// Jobs whose handlers succeeded, waiting to be deleted. A claim loop hands each job over as its handler returns; one
/// completion task per worker deletes everything handed over since its last delete in one statement (issue 17: a group
/// commit for completions, PGQueuer's acknowledgement buffer without its timer). At most one delete is in flight, so
/// under load many jobs share a commit, and when idle a job is deleted as soon as it is handed over.
///
/// A job with a serialization key holds back the next job with that key until it is deleted: the loop that ran it waits
/// for that deletion before it claims again (`waitUntilDeleted`), so a conversation's next message is not overtaken by
/// other work, as when each loop deleted its own batch before claiming.
final class FinishedJobs: Sendable {
    private struct State {
        var pending: [ClaimedJob] = []
        var inFlight: Set<Int64> = []
        var closed = false
    }
    private let state = Mutex(State())
    private let bell = Doorbell()

    func add(_ jobs: [ClaimedJob]) {
        guard !jobs.isEmpty else { return }
        state.withLock { $0.pending += jobs }
        bell.ring()
    }

    /// No more jobs come (every claim loop has ended).
    func close() {
        state.withLock { $0.closed = true }
        bell.ring()
    }

    /// Returns once none of `ids` waits to be deleted or is being deleted, or after `timeout` (a delete that keeps
    /// failing must not stop the loop for good).
    func waitUntilDeleted(_ ids: Set<Int64>, timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, !Task.isCancelled {
            let seen = bell.generation
            let waiting = state.withLock { state in
                !state.inFlight.isDisjoint(with: ids) || state.pending.contains { ids.contains($0.id) }
            }
            if !waiting { return }
            await bell.wait(after: seen, timeout: deadline - ContinuousClock.now)
        }
    }

    /// The jobs handed over so far (now being deleted), and whether the buffer is closed.
    fileprivate func take() -> (jobs: [ClaimedJob], closed: Bool) {
        state.withLock { state in
            defer { state.pending = [] }
            state.inFlight.formUnion(state.pending.map(\.id))
            return (state.pending, state.closed)
        }
    }

    /// A delete of `jobs` ended; `retry`: it failed and they wait for the next one.
    fileprivate func ended(_ jobs: [ClaimedJob], retry: Bool) {
        state.withLock { state in
            state.inFlight.subtract(jobs.map(\.id))
            if retry { state.pending = jobs + state.pending }
        }
        bell.ring()
    }

    fileprivate var generation: UInt64 { bell.generation }

    fileprivate func wait(after generation: UInt64) async { await bell.wait(after: generation, timeout: .seconds(1)) }
}

extension JobWorker {
    /// Deletes handed-over jobs until the claim loops have ended and nothing is left. A delete that fails is tried
    /// again with the next (whether it committed is unknown; deleting twice deletes nothing); once the loops have ended
    /// a failure is the last try, and those jobs run again after their lease, which handlers tolerate. A delete rings
    /// the doorbell: a conversation whose job it removed may have its next job claimable now, and an idle loop takes it.
    func completeLoop(_ finished: FinishedJobs) async {
        while true {
            let seen = finished.generation
            let (jobs, closed) = finished.take()
            if jobs.isEmpty {
                if closed || Task.isCancelled { return }
                await finished.wait(after: seen)
                continue
            }
            do {
                let deleted = try await queue.complete(jobs)
                finished.ended(jobs, retry: false)
                if !deleted.isEmpty { doorbell.ring() }
            } catch {
                logger.error("Completing jobs failed", metadata: ["job.count": "\(jobs.count)", "error.type": "\(type(of: error))"])
                let last = closed || Task.isCancelled
                finished.ended(jobs, retry: !last)
                if last { return }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
