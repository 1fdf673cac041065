import Foundation
import NIOCore
import PostgresNIO

extension JobQueue {
    /// The payloads of the waiting (not yet claimed, not dead) jobs of one kind, oldest first: for tests and operators
    /// that check what was queued without running it.
    package func waitingPayloads(kind: String) async throws -> [ByteBuffer] {
        var payloads: [ByteBuffer] = []
        for try await payload in try await client.query(
            "SELECT payload FROM jobs WHERE kind = \(kind) AND state IN ('available', 'scheduled') ORDER BY id", logger: logger
        ).decode(ByteBuffer.self) { payloads.append(payload) }
        return payloads
    }
}
