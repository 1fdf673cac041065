import FlowtalkContracts
import FlowtalkStore
import Logging
import ServiceLifecycle

/// Forgets handled-event markers after 30 days: long after Meta stops redelivering (36 hours), so no event can come
/// back to be decided twice, and the table does not grow for ever. Batched, hourly, safe on any number of replicas.
/// Also forgets AI usage counters older than a week, conversations, replies and sent-message ids 30 days after their
/// last use, and removes inbound jobs still waiting after 25 hours (`StaleInbound`).
struct DispatchMaintenance: Service {
    let client: Database
    let gate: SchemaGate
    let logger: Logger
    var retentionDays = 30

    func run() async throws {
        try? await cancelWhenGracefulShutdown { await gate.wait() }
        guard gate.isOpen else { return }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let store = DispatchStores(client: client, logger: logger)
                let deleted = try await store.conversations.purgeHandledEvents(olderThanDays: retentionDays)
                if deleted > 0 { logger.info("Handled-event markers purged", metadata: ["dispatch.purged": "\(deleted)"]) }
                try await store.conversations.purgeAIUsage()
                let idle = try await store.conversations.purgeIdle()
                if idle > 0 { logger.info("Idle conversations, replies and sent-message ids purged", metadata: ["dispatch.purged_idle": "\(idle)"]) }
                var stale = 0
                while true {
                    let removed = try await StaleInbound(client: client, logger: logger).expire()
                    stale += removed
                    if removed < 500 || Task.isShuttingDownGracefully { break }
                }
                if stale > 0 { logger.notice("Inbound jobs past the reply window removed", metadata: ["dispatch.stale_inbound": "\(stale)"]) }
            } catch {
                logger.warning("Handled-event purge failed", metadata: ["error.type": "\(type(of: error))"])
            }
            do {
                // The daily connection checks: one job per account and day, however many replicas queue it.
                let due = try await DispatchStores(client: client, logger: logger).connections.accountsDueForCheck()
                if !due.isEmpty { _ = try await JobQueue(client: client, logger: logger).enqueue(due.map { ConnectionCheckJob.make(accountID: $0) }) }
            } catch {
                logger.warning("Connection checks not queued", metadata: ["error.type": "\(type(of: error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}
