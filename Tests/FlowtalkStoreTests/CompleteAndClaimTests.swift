import FlowtalkStore
import FlowtalkTesting
import Foundation
import Logging
import NIOCore
import PostgresNIO
import Testing

/// A claim loop deletes the batch it finished and claims the next in one call (issue 17): the finished jobs are gone,
/// a stale worker's jobs are not, and a conversation's next job is claimed in the call that completes the one before.
@Suite struct CompleteAndClaimTests {
    static let logger = Logger.quiet("test")

    @Test func completesTheFinishedBatchAndClaimsTheNextInOneCall() async throws {
        try await TestDatabase.withMigrated { _, client in
            let queue = JobQueue(client: client, logger: Self.logger)
            _ = try await queue.enqueue([
                job("test", "a1", conversation: "conv:a"), job("test", "a2", conversation: "conv:a"), job("test", "b1"),
            ])
            let first = try await queue.claim(kinds: ["test"], limit: 10, worker: "w", lease: .seconds(30))
            // a2 waits behind a1: one conversation's jobs run one at a time.
            #expect(Set(first.map { String(buffer: $0.payload) }) == ["a1", "b1"])

            let next = try await queue.completeAndClaim(first, kinds: ["test"], limit: 10, worker: "w", lease: .seconds(30))
            #expect(next.completed == Set(first.map(\.id)))
            // The claim saw a1 deleted, so a2 came in the same call, with its payload.
            #expect(next.claimed.map { String(buffer: $0.payload) } == ["a2"])
            #expect(next.claimed.allSatisfy { $0.attempt == 1 && $0.leaseID != first[0].leaseID })
            #expect(try await count(client, "SELECT count(*) FROM jobs") == 1)
            #expect(try await count(client, "SELECT count(*) FROM jobs WHERE state = 'running'") == 1)

            // Limit 0 only completes.
            let last = try await queue.completeAndClaim(next.claimed, kinds: ["test"], limit: 0, worker: "w", lease: .seconds(30))
            #expect(last.completed == Set(next.claimed.map(\.id)) && last.claimed.isEmpty)
            #expect(try await count(client, "SELECT count(*) FROM jobs") == 0)
        }
    }

    @Test func aStaleWorkersFinishedJobsAreNotDeleted() async throws {
        try await TestDatabase.withMigrated { _, client in
            let queue = JobQueue(client: client, logger: Self.logger)
            _ = try await queue.enqueue([job("test", "slow")])
            let stale = try #require(try await queue.claim(kinds: ["test"], limit: 1, worker: "stale", lease: .milliseconds(200)).first)
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await queue.rescueExpired() == 1)
            let current = try #require(try await queue.claim(kinds: ["test"], limit: 1, worker: "current", lease: .seconds(30)).first)

            // The stale worker finishes late: its call deletes nothing and claims nothing (the job is held).
            let late = try await queue.completeAndClaim([stale], kinds: ["test"], limit: 5, worker: "stale", lease: .seconds(30))
            #expect(late.completed.isEmpty && late.claimed.isEmpty)
            #expect(try await count(client, "SELECT count(*) FROM jobs WHERE state = 'running'") == 1)
            // Asked again (as after a call whose commit was not confirmed), the current holder's deletion still works once.
            #expect(try await queue.completeAndClaim([current], kinds: ["test"], limit: 5, worker: "current", lease: .seconds(30)).completed == [current.id])
            #expect(try await queue.completeAndClaim([current], kinds: ["test"], limit: 5, worker: "current", lease: .seconds(30)).completed.isEmpty)
            #expect(try await count(client, "SELECT count(*) FROM jobs") == 0)
        }
    }
}
