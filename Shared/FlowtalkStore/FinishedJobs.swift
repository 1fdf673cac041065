import Logging
import Synchronization

/// Jobs whose handlers succeeded, waiting to be deleted. Claim loops hand their batch over and claim the next at once;
/// one flusher per worker deletes everything handed over since its last delete in one statement (issue 17: a
/// group commit for completions, PGQueuer's acknowledgement buffer without its timer). At most one delete is in flight,
/// so under load many batches share a commit and when idle a batch is deleted as soon as it is handed over.
final class FinishedJobs: Sendable {
    private struct State {
        var pending: [ClaimedJob] = []
        var closed = false
    }
    private let state = Mutex(State())
    private let bell = Doorbell()

    func add(_ jobs: [ClaimedJob]) {
        guard !jobs.isEmpty else { return }
        state.withLock { $0.pending += jobs }
        bell.ring()
    }

    /// No more batches come (every claim loop has ended).
    func close() {
        state.withLock { $0.closed = true }
        bell.ring()
    }

    /// The jobs handed over so far (emptying the buffer), and whether it is closed.
    fileprivate func take() -> (jobs: [ClaimedJob], closed: Bool) {
        state.withLock { state in
            defer { state.pending = [] }
            return (state.pending, state.closed)
        }
    }

    fileprivate func putBack(_ jobs: [ClaimedJob]) { state.withLock { $0.pending = jobs + $0.pending } }

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
                if try await !queue.complete(jobs).isEmpty { doorbell.ring() }
            } catch {
                logger.error("Completing jobs failed", metadata: ["job.count": "\(jobs.count)", "error.type": "\(type(of: error))"])
                if closed || Task.isCancelled { return }
                finished.putBack(jobs)
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
