import FlowtalkStore
import Logging
import ServiceLifecycle

/// Queues a periodic job at start and then every `interval` (the job's dedupe key makes it once per period however many
/// replicas run), after the schema gate opens; stops at shutdown.
package struct PeriodicScheduler: Service {
    let what: String
    let gate: SchemaGate
    let interval: Duration
    let logger: Logger
    let schedule: @Sendable () async throws -> Void

    package init(_ what: String, gate: SchemaGate, interval: Duration, logger: Logger, schedule: @escaping @Sendable () async throws -> Void) {
        self.what = what
        self.gate = gate
        self.interval = interval
        self.logger = logger
        self.schedule = schedule
    }

    package func run() async throws {
        try? await cancelWhenGracefulShutdown { await gate.wait() }
        guard gate.isOpen else { return }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await schedule()
            } catch {
                logger.warning("\(what) could not be scheduled", metadata: ["error.type": "\(type(of: error))"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
