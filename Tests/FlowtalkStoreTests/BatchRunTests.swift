import FlowtalkStore
import FlowtalkTesting
import Foundation
import Logging
import Testing

/// A claimed batch's deadlines and heartbeat are kept by one watchdog per batch (issue 17: a timer and two tasks per
/// job cost a sixth of the no-op drain's rate); what it must keep doing.
@Suite struct BatchRunTests {
    /// A handler that runs three times as long as its lease: the heartbeat renews the lease, so another worker does not
    /// rescue the job and run it a second time, and the job is deleted once done.
    @Test func aHandlerLongerThanItsLeaseRunsOnce() async throws {
        try await TestDatabase.withMigrated { database, client in
            let queue = JobQueue(client: client, logger: Logger.quiet("test"))
            let ledger = Ledger()
            _ = try await queue.enqueue([job("slow", "one")])
            try await withWorkers(
                database, count: 2,
                handlers: ["slow": { job, _ in
                    try await Task.sleep(for: .seconds(3))
                    ledger.ran(job.id)
                }],
                configure: { $0.lease = .seconds(1); $0.heartbeat = .milliseconds(200); $0.rescueInterval = .milliseconds(100) }
            ) {
                try await eventually(timeout: .seconds(60)) { try await count(client, "SELECT count(*) FROM jobs") == 0 }
                // A second run, had the job been rescued, would end about a second after the first.
                try await Task.sleep(for: .milliseconds(1_500))
            }
            #expect(ledger.total == 1)
            #expect(ledger.runs.values.allSatisfy { $0 == 1 })
        }
    }

    /// In one batch, a stuck handler fails at its deadline while the others' outcomes are recorded as they end: the
    /// quick jobs are deleted without waiting for the stuck one.
    @Test func aStuckHandlerDoesNotHoldBackTheBatchsOtherJobs() async throws {
        try await TestDatabase.withMigrated { database, client in
            let queue = JobQueue(client: client, logger: Logger.quiet("test"))
            _ = try await queue.enqueue([job("stuck", "s")] + (1...5).map { job("quick", "q\($0)") })
            let stuckRuns = Box(0)
            try await withWorkers(
                database, count: 1,
                handlers: [
                    "stuck": { _, _ in
                        if stuckRuns.withLock({ $0 += 1; return $0 }) == 1 {
                            await withCheckedContinuation { (_: CheckedContinuation<Void, Never>) in }  // never resumed
                        }
                    },
                    "quick": { _, _ in },
                ],
                configure: { $0.loops = 1; $0.batchSize = 10; $0.handlerTimeouts = ["stuck": .seconds(8)]; $0.heartbeat = .milliseconds(200) }
            ) {
                try await eventually(timeout: .seconds(6)) { try await count(client, "SELECT count(*) FROM jobs WHERE kind = 'quick'") == 0 }
                #expect(
                    try await count(client, "SELECT count(*) FROM jobs WHERE kind = 'stuck' AND state = 'running' AND last_error IS NULL") == 1,
                    "still running, inside its deadline")
                try await eventually(timeout: .seconds(60)) { try await count(client, "SELECT count(*) FROM jobs") == 0 }
            }
            #expect(stuckRuns.withLock { $0 } == 2, "failed at its deadline and run again")
        }
    }
}
