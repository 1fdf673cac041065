import Foundation
import NIOCore

/// A job to put on the queue.
package struct NewJob: Sendable {
    package var kind: String
    package var payload: ByteBuffer
    /// The same key twice yields one job, even after the first job is done (the key is remembered for `dedupeRetention`).
    package var dedupeKey: String?
    /// Jobs with the same key never run at the same time and start in the order they were enqueued.
    package var serializationKey: String?
    /// Higher runs first.
    package var priority: Int16
    /// Not before this time (nil: now).
    package var runAt: Date?
    package var maxAttempts: Int32

    package init(
        kind: String, payload: ByteBuffer, dedupeKey: String? = nil, serializationKey: String? = nil, priority: Int16 = 0,
        runAt: Date? = nil, maxAttempts: Int32 = 8
    ) {
        self.kind = kind
        self.payload = payload
        self.dedupeKey = dedupeKey
        self.serializationKey = serializationKey
        self.priority = priority
        self.runAt = runAt
        self.maxAttempts = maxAttempts
    }
}
