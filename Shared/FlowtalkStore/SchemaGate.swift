import Logging
import PostgresNIO
import ServiceLifecycle
import Foundation
import Synchronization

/// Opens once migrations have been applied; `/readyz` and the workers wait on it.
package final class SchemaGate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [UUID: CheckedContinuation<Void, Never>])>((false, [:]))

    package init() {}

    /// Whether migrations are done.
    package var isOpen: Bool { state.withLock { $0.open } }

    /// Marks migrations done and releases every waiter.
    package func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the gate is open, or when the task is cancelled (check `isOpen` afterwards).
    package func wait() async {
        let id = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.open || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}

/// Applies migrations at start, retrying while PostgreSQL is unreachable, then opens the gate. Until then the
/// service is up but `/readyz` answers 503.
package struct MigrationService: Service {
    let client: Database
    let migrations: [Migration]
    let gate: SchemaGate
    let logger: Logger
    /// False: only wait until someone else (`flowtalk-admin migrate`) has brought the schema up to date.
    let migrate: Bool

    package init(client: PostgresClient, migrations: [Migration] = FlowtalkMigrations.all, gate: SchemaGate, logger: Logger, migrate: Bool = true) {
        self.init(client: Database(client), migrations: migrations, gate: gate, logger: logger, migrate: migrate)
    }

    package init(client: Database, migrations: [Migration] = FlowtalkMigrations.all, gate: SchemaGate, logger: Logger, migrate: Bool = true) {
        self.client = client
        self.migrations = migrations
        self.gate = gate
        self.logger = logger
        self.migrate = migrate
    }

    package func run() async throws {
        var delay = Duration.milliseconds(250)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                // Cancellable: while PostgreSQL is unreachable a lease can wait long, and shutdown must not.
                if migrate {
                    try await cancelWhenGracefulShutdown { [client, migrations, logger] in
                        _ = try await Migrator.apply(migrations, database: client, logger: logger)
                    }
                } else {
                    let current = try await cancelWhenGracefulShutdown { [client, migrations, logger] in
                        try await Migrator.isCurrent(migrations, database: client, logger: logger)
                    }
                    guard current else { throw SchemaNotCurrent() }
                }
                gate.open()
                break
            } catch {
                // A start that is being abandoned (a sibling failed, or shutdown) is no migration failure.
                if Task.isCancelled || Task.isShuttingDownGracefully { break }
                if error is SchemaNotCurrent {
                    logger.notice("Waiting for the schema (FLOWTALK_MIGRATE=false: run flowtalk-admin migrate)")
                } else {
                    logger.warning("Migrations not applied yet; retrying", metadata: ["error.type": "\(type(of: error))"])
                }
                let wait = delay
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
                delay = min(delay * 2, .seconds(5))
            }
        }
        // A Service that returns ends the group, so stay until shutdown.
        try? await gracefulShutdown()
    }
}

/// The schema is not up to date yet and this service was told not to migrate it (`FLOWTALK_MIGRATE=false`).
struct SchemaNotCurrent: Error {}
