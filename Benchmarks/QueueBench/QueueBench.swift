// flowtalk-bench-queue (issue 17): drains N no-op jobs through the project's own queue (JobQueue + JobWorker, the code
// dispatch runs) with W claim loops × batch B, and prints how fast. `make bench` runs PGQueuer on the same server with
// the same N, W and B beside it (scripts/bench-queue.sh).
//   DATABASE_URL=… flowtalk-bench-queue --jobs 20000 --workers 5 --batch 10
import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle

@main
enum QueueBench {
    static let kind = "bench.noop"

    static func main() async throws {
        var jobs = 20_000, workers = 5, batch = 10
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let flag = arguments.next() {
            guard let value = arguments.next().flatMap(Int.init), value > 0 else { usage() }
            switch flag {
            case "--jobs": jobs = value
            case "--workers": workers = value
            case "--batch": batch = value
            default: usage()
            }
        }
        guard let url = ProcessInfo.processInfo.environment["DATABASE_URL"] else { usage() }
        let logger = Logger(label: "bench-queue", factory: { _ in SwiftLogNoOpLogHandler() })
        let configuration = try DatabaseURL.configuration(Secret(url), maximumConnections: workers + 4, mode: .development)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await Migrator.apply(FlowtalkMigrations.all, client: client, logger: logger)
            let database = Database(client)
            let queue = JobQueue(client: database, logger: logger)
            _ = try await client.query("DELETE FROM jobs WHERE kind = \(kind)", logger: logger)
            // Enqueued untimed, in chunks, as ingest would (one job per event, no dedupe key: each is new).
            var enqueued = 0
            while enqueued < jobs {
                let chunk = min(1_000, jobs - enqueued)
                enqueued += try await queue.enqueue((0..<chunk).map { _ in NewJob(kind: kind, payload: ByteBuffer(string: "{}")) })
            }
            try await client.query("ANALYZE jobs", logger: logger)

            let done = Counter()
            var settings = JobWorkerConfiguration()
            settings.loops = workers
            settings.batchSize = batch
            settings.pollInterval = .milliseconds(50)
            let worker = JobWorker(
                queue: queue, handlers: [kind: { _, _ in done.add() }], configuration: settings, logger: logger)
            let started = ContinuousClock.now
            let running = Task { try await worker.run() }
            // Drained: every job handled and completed (none left in the table for this kind).
            while true {
                try await Task.sleep(for: .milliseconds(20))
                if done.value >= jobs, try await remaining(client, logger) == 0 { break }
            }
            let elapsed = ContinuousClock.now - started
            running.cancel()
            _ = try? await running.value
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print(String(format: "RESULT queue=flowtalk jobs=%d workers=%d batch=%d seconds=%.3f rate=%.1f", jobs, workers, batch, seconds, Double(jobs) / seconds))
        }
    }

    static func remaining(_ client: PostgresClient, _ logger: Logger) async throws -> Int64 {
        for try await count in try await client.query(
            "SELECT count(*)::int8 FROM jobs WHERE kind = \(kind)", logger: logger
        ).decode(Int64.self) { return count }
        return 0
    }

    static func usage() -> Never {
        FileHandle.standardError.write(Data("usage: DATABASE_URL=… flowtalk-bench-queue [--jobs N] [--workers W] [--batch B]\n".utf8))
        exit(2)
    }
}

/// Jobs the no-op handler ran.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
