import Synchronization

/// The jobs of one claimed batch while their handlers run: each job's outcome is delivered once — by its handler, or
/// by the batch's watchdog at its deadline, whichever comes first — into one stream the claim loop reads. The jobs still
/// waiting for an outcome, less those whose lease was lost, are the only leases the heartbeat renews.
///
/// One watchdog per batch keeps every deadline and the heartbeat (issue 17): a timer and two tasks per job cost about
/// a sixth of the no-op drain's rate.
final class BatchRun: Sendable {
    typealias Outcome = (job: ClaimedJob, error: (any Error)?)

    private struct State {
        var waiting: [Int64: ClaimedJob]
        var renewing: Set<Int64>
        var delivered: [Outcome] = []
        var reader: CheckedContinuation<Outcome?, Never>?
    }
    private let state: Mutex<State>

    init(_ jobs: [ClaimedJob]) {
        let waiting = Dictionary(jobs.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        state = Mutex(State(waiting: waiting, renewing: Set(waiting.keys)))
    }

    /// Delivers `job`'s outcome unless it already has one; true when this one counts.
    @discardableResult
    func deliver(_ job: ClaimedJob, _ error: (any Error)?) -> Bool {
        let (first, reader) = state.withLock { state -> (Bool, CheckedContinuation<Outcome?, Never>?) in
            guard state.waiting.removeValue(forKey: job.id) != nil else { return (false, nil) }
            state.renewing.remove(job.id)
            guard let reader = state.reader else {
                state.delivered.append((job, error))
                return (true, nil)
            }
            state.reader = nil
            return (true, reader)
        }
        reader?.resume(returning: (job, error))
        return first
    }

    /// The next outcome, in the order they were delivered; nil once every job's has been read. Waits as long as it
    /// takes, cancelled or not: an outcome in hand is always recorded (a succeeded job left undeleted would run again).
    func next() async -> Outcome? {
        await withCheckedContinuation { (reader: CheckedContinuation<Outcome?, Never>) in
            let ready = state.withLock { state -> Outcome?? in
                if !state.delivered.isEmpty { return .some(state.delivered.removeFirst()) }
                if state.waiting.isEmpty { return .some(nil) }
                state.reader = reader
                return .none
            }
            if let ready { reader.resume(returning: ready) }
        }
    }

    /// The jobs still waiting for an outcome.
    var waiting: [ClaimedJob] { state.withLock { Array($0.waiting.values) } }

    /// The waiting jobs whose leases are still renewed.
    var renewable: [ClaimedJob] { state.withLock { state in state.renewing.compactMap { state.waiting[$0] } } }

    /// The lease of `id` was lost: it is no longer renewed (its outcome is still recorded).
    func stopRenewing(_ id: Int64) { _ = state.withLock { $0.renewing.remove(id) } }
}
