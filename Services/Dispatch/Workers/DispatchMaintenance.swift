import FlowtalkStore
import Logging
import ServiceLifecycle

/// Forgets handled-event markers after 30 days: long after Meta stops redelivering (36 hours), so no event can come
/// back to be decided twice, and the table does not grow for ever. Batched, hourly, safe on any number of replicas.
/// Also forgets AI usage counters older than a week.
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
            } catch {
                logger.warning("Handled-event purge failed", metadata: ["error.type": "\(type(of: error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(3600)) }
        }
    }
}
