import Foundation
import NIOCore
import PostgresNIO

extension JobQueue {
    /// The payloads of the jobs of one kind still in the queue (waiting, running, retrying or dead), oldest first: for
    /// tests and operators that check what was queued.
    package func queuedPayloads(kind: String) async throws -> [ByteBuffer] {
        var payloads: [ByteBuffer] = []
        for try await payload in try await client.query(
            "SELECT payload FROM jobs WHERE kind = \(kind) ORDER BY id", logger: logger
        ).decode(ByteBuffer.self) { payloads.append(payload) }
        return payloads
    }
}
