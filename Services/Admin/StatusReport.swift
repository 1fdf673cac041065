import FlowtalkContracts
import FlowtalkStore
import Foundation
import Logging

/// `flowtalk-admin status`: what an operator looks at first.
struct StatusReport {
    let database: Database
    let logger: Logger

    func lines(now: Date = Date()) async throws -> [String] {
        let queue = JobQueue(client: database, logger: logger)
        var lines = ["queue (kind, state, jobs, oldest due):"]
        let counts = try await queue.counts()
        if counts.isEmpty { lines.append("  empty") }
        for count in counts {
            let due = count.oldestDue.map { Self.age(now.timeIntervalSince($0)) } ?? "-"
            lines.append("  \(count.kind)  \(count.state)  \(count.count)  \(count.state == "running" ? "-" : due)")
        }
        let depth = try await queue.depth()
        lines.append("oldest due job waiting: \(depth.available == 0 ? "none" : Self.age(depth.oldestAvailableAgeSeconds))")
        let dead = try await queue.deadJobs()
        lines.append("dead jobs: \(dead.isEmpty ? "none" : "")")
        for kind in dead {
            lines.append("  \(kind.kind)  \(kind.count)  last error: \(kind.lastError ?? "-")")
        }
        let connections = try await ConnectionStore(client: database, logger: logger).statusCounts()
        lines.append("instagram connections: \(connections.total), needing reconnect: \(connections.needsReconnect)")
        let purge = try await queue.lastQueued(dedupePrefix: "retention:", kind: RetentionPurgeJob.kind)
        let queued = purge.queuedAt.map { "queued \(Self.age(now.timeIntervalSince($0))) ago" } ?? "never queued (in the last 7 days)"
        lines.append("activity retention purge: \(queued)\(purge.waiting > 0 ? ", still waiting to run" : "")")
        let oldest = try await ActivityStore(client: database, logger: logger).oldestEntryAgeSeconds()
        let overdue = (oldest ?? 0) > Double(ActivityStore.activityRetentionDays + 1) * 86_400
        lines.append("oldest activity entry: \(oldest.map { Self.age($0) } ?? "none")\(overdue ? " — past the 90-day limit: the purge is not running" : "")")
        return lines
    }

    static func age(_ seconds: Double) -> String {
        let s = max(0, Int(seconds))
        if s < 120 { return "\(s)s" }
        if s < 7_200 { return "\(s / 60)m" }
        if s < 172_800 { return "\(s / 3600)h" }
        return "\(s / 86_400)d"
    }
}
