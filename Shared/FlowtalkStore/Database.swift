import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// A database call that did not finish within its deadline. Its connection was closed, so nothing it started lives on.
package struct DatabaseTimeout: Error, CustomStringConvertible {
    package let limit: Duration
    package var description: String { "database call exceeded \(limit)" }
}

/// The connection closed under a call (PostgreSQL restarted, the network dropped, or a deadline closed it).
package struct DatabaseConnectionLost: Error, CustomStringConvertible {
    package var description: String { "database connection lost" }
}

/// Whether `error` says the database could not be reached (as opposed to a statement it refused): such a failure is
/// answered with 503 and retried as a whole, never statement by statement.
package func isDatabaseUnavailable(_ error: any Error) -> Bool {
    switch error {
    case is DatabaseTimeout, is DatabaseConnectionLost: return true
    case let error as PostgresTransactionError: return isDatabaseUnavailable(error.closureError ?? error.commitError ?? error.beginError ?? error)
    case let error as PSQLError:
        switch error.code {
        case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown, .poolClosed: return true
        case .server:
            // 08: connection exception, 53: insufficient resources, 57P: operator intervention (shutdown, crash, starting up).
            let state = error.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || state.hasPrefix("53") || state.hasPrefix("57P")
        default: return false
        }
    default: return false
    }
}

/// The one way the store talks to PostgreSQL: every call has a deadline, and a call on a connection that dies fails at
/// once instead of hanging (DESIGN §5: nothing waits forever).
///
/// Why not `PostgresClient` directly: postgres-nio 1.33 writes a query to the channel with no write promise, so a query
/// sent on a connection that has just closed is never answered, and `withTransaction`'s `ROLLBACK` after a dropped
/// connection hangs its caller for good (issue #10). Here every query races the connection's close, the deadline closes
/// the connection (PostgreSQL then rolls back whatever it held), and a transaction whose connection failed is never
/// rolled back on it.
package struct Database: Sendable {
    package let client: PostgresClient
    /// The deadline of one call: a query, or a whole `withConnection` / `withTransaction` body.
    package let timeout: Duration

    private static let configuredTimeout = Atomic<Int64>(10_000)

    /// The deadline calls get when none is given (`DATABASE_TIMEOUT_SECONDS`; 10 s by default).
    package static var defaultTimeout: Duration {
        get { .milliseconds(configuredTimeout.load(ordering: .relaxed)) }
        set { configuredTimeout.store(max(1, newValue.milliseconds), ordering: .relaxed) }
    }

    package init(_ client: PostgresClient, timeout: Duration? = nil) {
        self.client = client
        self.timeout = timeout ?? Self.defaultTimeout
    }

    /// Runs one statement and collects its rows, within the deadline.
    @discardableResult
    package func query(_ query: PostgresQuery, logger: Logger, timeout: Duration? = nil, file: String = #fileID, line: Int = #line) async throws -> Rows {
        try await withConnection(timeout: timeout) { connection in
            try await connection.collect(query, logger: logger, file: file, line: line)
        }
    }

    @discardableResult
    /// Leases a connection for `body`. Past the deadline the connection is closed and the call throws `DatabaseTimeout`
    /// at once: the caller never waits for a body that is still stuck (its task ends by itself when the close reaches it).
    package func withConnection<Result: Sendable>(
        timeout: Duration? = nil, _ body: @escaping @Sendable (DatabaseConnection) async throws -> Result
    ) async throws -> Result {
        let limit = timeout ?? self.timeout
        let leased = LeaseState()
        let client = self.client
        // At the deadline the connection is closed so its queries fail now (a waiting lease is cancelled instead). It is
        // closed under the lock, so a body finishing meanwhile cannot have handed it back to the pool yet (close() only
        // starts the close; its callbacks never take this lock); a body that has ended keeps its own outcome.
        return try await withDeadline(
            limit,
            expiry: {
                let done = leased.state.withLock { state -> Bool in
                    guard !state.done else { return true }
                    state.expired = true
                    state.connection?.discard()
                    return false
                }
                return done ? nil : DatabaseTimeout(limit: limit)
            }
        ) {
            // A failure caused by the deadline closing the connection is the deadline's: whichever of the two outcomes
            // reaches the caller first, it reads "timed out", never "connection lost".
            do {
                return try await Self.leaseRunning(client, leased, limit, body)
            } catch {
                if leased.state.withLock({ $0.expired }) { throw DatabaseTimeout(limit: limit) }
                throw error
            }
        }
    }

    private static func leaseRunning<Result: Sendable>(
        _ client: PostgresClient, _ leased: LeaseState, _ limit: Duration, _ body: @escaping @Sendable (DatabaseConnection) async throws -> Result
    ) async throws -> Result {
        try await client.withConnection { raw in
            let expired = leased.state.withLock { state -> Bool in
                state.connection = raw
                return state.expired
            }
            if expired {
                raw.discard()
                throw DatabaseTimeout(limit: limit)
            }
            // Once the body is done the connection goes back to the pool: the deadline must not close it then.
            defer {
                leased.state.withLock { state in
                    state.connection = nil
                    state.done = true
                }
            }
            return try await body(DatabaseConnection(raw: raw))
        }
    }

    /// Runs `body` in a transaction and returns only once `COMMIT` has been confirmed by the server: PostgreSQL answers a
    /// `COMMIT` statement after the commit (unlike an implicit transaction, whose `CommandComplete` comes before it), so a
    /// success reported outward is never a write that was lost. When the body or the commit fails on a live connection it
    /// is rolled back; when the connection is gone it is closed, never reused.
    @discardableResult
    package func withTransaction<Result: Sendable>(
        logger: Logger, timeout: Duration? = nil, _ body: @escaping @Sendable (DatabaseConnection) async throws -> Result
    ) async throws -> Result {
        try await withConnection(timeout: timeout) { connection in
            try await connection.collect("BEGIN", logger: logger)
            let result: Result
            do {
                result = try await body(connection)
            } catch {
                await connection.rollback(logger: logger)
                throw error
            }
            do {
                try await connection.collect("COMMIT", logger: logger)
            } catch {
                // Whether it committed is unknown: the caller reports a failure and retries (every write is idempotent).
                connection.raw.discard()
                throw error
            }
            return result
        }
    }
}

/// The connection a `withConnection` call holds, and whether its deadline passed before the lease came.
private final class LeaseState: Sendable {
    /// The leased connection while the body runs; whether the deadline passed; whether the body has ended.
    let state = Mutex<(connection: PostgresConnection?, expired: Bool, done: Bool)>((nil, false, false))
}

/// A leased connection whose calls fail as soon as it closes, instead of waiting for an answer that cannot come.
package struct DatabaseConnection: Sendable {
    package let raw: PostgresConnection

    package init(raw: PostgresConnection) { self.raw = raw }

    /// One statement; its rows are read as they come.
    @discardableResult
    package func query(_ query: PostgresQuery, logger: Logger, file: String = #fileID, line: Int = #line) async throws -> PostgresRowSequence {
        let raw = self.raw
        return try await ConnectionWatch.shared.race(raw) { try await raw.query(query, logger: logger, file: file, line: line) }
    }

    /// One statement, its rows collected.
    @discardableResult
    package func collect(_ query: PostgresQuery, logger: Logger, file: String = #fileID, line: Int = #line) async throws -> Rows {
        let raw = self.raw
        return try await ConnectionWatch.shared.race(raw) {
            Rows(try await raw.query(query, logger: logger, file: file, line: line).collect())
        }
    }

    /// Inside a transaction: its commit returns once the server has it, without waiting for it to reach the disk
    /// (`synchronous_commit = off` for this transaction alone). It is visible at once and becomes durable with the next
    /// commit that waits (the write-ahead log is flushed in order) or within a fraction of a second; a crash of the
    /// server before that loses it. Only for writes whose loss the caller recovers from (ReplyLedger.finish).
    package func commitWithoutWaitingForDisk(logger: Logger) async throws {
        try await collect("SET LOCAL synchronous_commit = off", logger: logger)
    }

    /// A prepared statement, its rows collected.
    package func execute<Statement: PostgresPreparedStatement>(_ statement: Statement, logger: Logger) async throws -> [Statement.Row]
    where Statement.Row: Sendable {
        let raw = self.raw
        return try await ConnectionWatch.shared.race(raw) {
            var rows: [Statement.Row] = []
            for try await row in try await raw.execute(statement, logger: logger) { rows.append(row) }
            return rows
        }
    }

    /// Listens on `channel` until the connection closes or the task is cancelled (graceful shutdown ends it too).
    package func listen(
        on channel: String, logger: Logger, onStart: @escaping @Sendable () -> Void, onNotification: @escaping @Sendable () -> Void
    ) async throws {
        let raw = self.raw
        try await ConnectionWatch.shared.race(raw, passingCancellation: true) {
            try await raw.listen(on: channel) { notifications in
                onStart()
                for try await _ in notifications.cancelOnGracefulShutdown() { onNotification() }
            }
        }
    }

    /// Rolls back on a live connection within a short time; a connection that cannot is closed.
    func rollback(logger: Logger) async {
        guard !raw.isClosed else { return }
        do {
            try await collect("ROLLBACK", logger: logger)
        } catch {
            raw.discard()
        }
    }
}

/// Rows already read from the server, decoded like a `PostgresRowSequence`.
package struct Rows: Sendable, Sequence {
    package let rows: [PostgresRow]

    init(_ rows: [PostgresRow]) { self.rows = rows }

    package func makeIterator() -> IndexingIterator<[PostgresRow]> { rows.makeIterator() }

    package var count: Int { rows.count }

    /// The rows decoded as `type`, as an async sequence so `for try await` reads the same as with postgres-nio.
    package func decode<each Column: PostgresDecodable>(_ type: (repeat each Column).Type, file: String = #fileID, line: Int = #line)
        -> DecodedRows<(repeat each Column)>
    {
        DecodedRows(values: Result(catching: { try rows.map { try $0.decode((repeat each Column).self, file: file, line: line) } }))
    }
}

/// Decoded rows; a decoding failure is thrown at the first step.
package struct DecodedRows<Element>: AsyncSequence {
    let values: Result<[Element], any Error>

    package struct AsyncIterator: AsyncIteratorProtocol {
        var values: Result<[Element], any Error>
        var index = 0
        package mutating func next() async throws -> Element? {
            let all = try values.get()
            guard index < all.count else { return nil }
            defer { index += 1 }
            return all[index]
        }
    }

    package func makeAsyncIterator() -> AsyncIterator { AsyncIterator(values: values) }
}

extension Duration {
    /// Whole milliseconds.
    package var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}

extension PostgresConnection {
    /// Closes the connection without waiting: its pending calls fail and the pool replaces it.
    func discard() {
        let closed: EventLoopFuture<Void> = close()
        closed.whenComplete { _ in }
    }
}
