import NIOCore
import PostgresNIO
import Synchronization

/// Fails calls on a connection the moment it closes.
///
/// postgres-nio hands a query to the channel without a write promise; when the channel has just closed, the write fails
/// silently and the query's own promise is never completed, so `await` would wait forever (and ignores cancellation).
/// Here the call runs in its own task while its caller waits on whichever comes first: the answer, or the close. One
/// close callback is registered per connection, not per call, so nothing piles up on a long-lived connection.
final class ConnectionWatch: Sendable {
    static let shared = ConnectionWatch()

    private struct Watched {
        var waiters: [UInt64: @Sendable () -> Void] = [:]
    }
    private struct State {
        var connections: [ObjectIdentifier: Watched] = [:]
        var nextToken: UInt64 = 0
    }
    private let state = Mutex(State())

    /// Runs `operation` (a call on `connection`) and returns its result, or throws `DatabaseConnectionLost` as soon as
    /// the connection closes.
    /// With `passingCancellation`, the caller's cancellation reaches the call's own task (for a wait that honours it, such
    /// as a LISTEN session's); without it, a statement already sent runs to its end, as postgres-nio does anyway, so a
    /// handler cancelled at its deadline still records what it did (a COMMIT is never cut off half-way).
    func race<T: Sendable>(
        _ connection: PostgresConnection, passingCancellation: Bool = false, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        if connection.isClosed { throw DatabaseConnectionLost() }
        let outcome = OneShot<T>()
        let token = watch(connection, onClose: { outcome.resume(.failure(DatabaseConnectionLost())) })
        let work = Task {
            let result: Result<T, any Error>
            do { result = .success(try await operation()) } catch { result = .failure(error) }
            self.unwatch(connection, token)
            outcome.resume(result)
        }
        // The call runs in a task of its own, which the caller's cancellation would not reach. A LISTEN session passes it
        // on: before, a worker cancelled outside a graceful shutdown kept listening until the session's 5-minute deadline.
        return try await withTaskCancellationHandler {
            try await outcome.value()
        } onCancel: {
            if passingCancellation { work.cancel() }
        }
    }

    /// Registers `onClose`, called once when the connection closes (at once when it already has).
    private func watch(_ connection: PostgresConnection, onClose: @escaping @Sendable () -> Void) -> UInt64 {
        let id = ObjectIdentifier(connection)
        let (token, isNew) = state.withLock { state -> (UInt64, Bool) in
            state.nextToken &+= 1
            let isNew = state.connections[id] == nil
            state.connections[id, default: Watched()].waiters[state.nextToken] = onClose
            return (state.nextToken, isNew)
        }
        if isNew {
            connection.closeFuture.whenComplete { _ in
                let waiters = self.state.withLock { $0.connections.removeValue(forKey: id)?.waiters.values }
                for waiter in waiters ?? [:].values { waiter() }
            }
        }
        // A connection that closed already runs the callback at once: a completed future calls back immediately.
        return token
    }

    private func unwatch(_ connection: PostgresConnection, _ token: UInt64) {
        let id = ObjectIdentifier(connection)
        state.withLock { _ = $0.connections[id]?.waiters.removeValue(forKey: token) }
    }
}

