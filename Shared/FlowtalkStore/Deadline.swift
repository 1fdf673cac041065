import Synchronization

/// A handler that ran past its kind's deadline (the job is retried with this reason).
package struct HandlerTimeout: Error, CustomStringConvertible {
    package let limit: Duration
    package var description: String { "handler_timeout" }
}

/// Runs `operation` and returns its result, or throws `HandlerTimeout` once `limit` has passed, without waiting for an
/// operation that does not stop when cancelled: the caller is never held past its deadline (DESIGN §5).
package func withDeadline<T: Sendable>(_ limit: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withDeadline(limit, expiry: { HandlerTimeout(limit: limit) }, operation)
}

/// Runs `operation` in a task of its own and returns its result; at `limit`, `expiry` runs and gives the error the
/// caller gets at once (the operation is cancelled and left to end by itself), or nil when the operation is already
/// ending and keeps its own outcome. The caller's cancellation reaches the operation.
func withDeadline<T: Sendable>(
    _ limit: Duration, expiry: @escaping @Sendable () -> (any Error)?, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let outcome = OneShot<T>()
    let work = Task {
        do { outcome.resume(.success(try await operation())) } catch { outcome.resume(.failure(error)) }
    }
    let timer = Task {
        try await Task.sleep(for: limit)
        guard let error = expiry() else { return }
        outcome.resume(.failure(error))
        work.cancel()
    }
    defer { timer.cancel() }
    return try await withTaskCancellationHandler {
        try await outcome.value()
    } onCancel: {
        work.cancel()
    }
}

/// A result delivered once, by whichever side comes first; later ones are dropped.
final class OneShot<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var result: Result<T, any Error>?
    }
    private let state = Mutex(State())

    func resume(_ result: Result<T, any Error>) {
        let continuation = state.withLock { state -> CheckedContinuation<T, any Error>? in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(with: result)
    }

    func value() async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let ready = state.withLock { state -> Result<T, any Error>? in
                if let result = state.result { return result }
                state.continuation = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
