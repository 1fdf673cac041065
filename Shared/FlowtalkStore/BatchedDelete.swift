import Logging
import PostgresNIO

extension Database {
    /// Runs `statement` — one that deletes at most `batch` rows and answers how many, shaped
    /// `WITH gone AS (DELETE … WHERE key IN (SELECT key … LIMIT batch) RETURNING 1) SELECT count(*) FROM gone` — again
    /// until a run deletes fewer than `batch`: many short statements instead of one long lock. Returns the total.
    package func deleteInBatches(
        _ statement: PostgresQuery, batch: Int, maxBatches: Int = .max, pause: Duration = .zero, logger: Logger
    ) async throws -> Int {
        var total = 0
        for _ in 0..<maxBatches {
            var deleted = 0
            for try await n in try await query(statement, logger: logger).decode(Int.self) { deleted = n }
            total += deleted
            if deleted < batch { break }
            if pause > .zero { try await Task.sleep(for: pause) }
        }
        return total
    }
}
