import FlowtalkStore
import FlowtalkTesting
import Foundation
import Logging
import NIOCore
import Testing

/// Claim loops hand finished batches to one completion task (issue 17). A conversation's next job waits until the one
/// before is deleted; that deletion must wake the idle loop, or the next message would wait for the poll.
@Suite struct FinishedJobsTests {
    @Test func aConversationsNextJobIsTakenOnceTheOneBeforeIsDeletedNotAtThePoll() async throws {
        try await TestDatabase.withMigrated { database, client in
            let queue = JobQueue(client: client, logger: Logger.quiet("test"))
            let ledger = Ledger()
            try await withWorkers(
                database, count: 1, handlers: ["test": { job, _ in ledger.ran(job.id) }],
                configure: { $0.loops = 1; $0.pollInterval = .seconds(300); $0.rescueInterval = .seconds(300) }
            ) {
                try await Task.sleep(for: .seconds(1))
                // One notification for both: the second is claimable only after the first is deleted.
                _ = try await queue.enqueue((1...3).map { job("test", "m\($0)", conversation: "conv:a") })
                // With a five-minute poll, only the completion's wake-up can bring the second and third.
                try await eventually(timeout: .seconds(60)) { ledger.total == 3 }
                try await eventually { try await count(client, "SELECT count(*) FROM jobs") == 0 }
            }
            #expect(ledger.runs.values.allSatisfy { $0 == 1 })
        }
    }

    /// A busy worker: a conversation's next message comes before later work of other customers, since the loop waits
    /// for its job's deletion before it claims again (it used to delete before claiming; handing the job over and
    /// claiming at once let the later work overtake it, the next message still held back by its predecessor's row).
    @Test func aConversationsNextJobIsNotOvertakenByLaterWork() async throws {
        try await TestDatabase.withMigrated { database, client in
            let queue = JobQueue(client: client, logger: Logger.quiet("test"))
            let order = Box<[String]>([])
            _ = try await queue.enqueue((1...3).map { job("test", "a\($0)", conversation: "conv:a") })
            _ = try await queue.enqueue((1...20).map { job("test", "other\($0)") })
            try await withWorkers(
                database, count: 1,
                handlers: ["test": { job, _ in
                    order.withLock { $0.append(String(buffer: job.payload)) }
                    try await Task.sleep(for: .milliseconds(20))
                }],
                configure: { $0.loops = 1; $0.batchSize = 1 }
            ) {
                try await eventually(timeout: .seconds(60)) { order.withLock { $0.count } == 23 }
            }
            #expect(Array(order.withLock { $0 }.prefix(3)) == ["a1", "a2", "a3"])
        }
    }
}
