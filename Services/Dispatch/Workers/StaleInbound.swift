import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import Foundation
import Logging
import NIOCore

/// Inbound jobs still waiting 25 hours after they were queued (a long outage, a chain of retries): Instagram's 24-hour
/// reply window has closed, so the message can no longer be answered and its text has no use left in the queue. Each
/// is removed, and the activity log records the message as not answered because the window closed.
struct StaleInbound: Sendable {
    let store: DispatchStores
    static let hours = 25

    /// Removes up to `limit` such jobs in one transaction; returns how many.
    func expire(limit: Int = 500) async throws -> Int {
        let queue = JobQueue(client: store.client, logger: store.logger)
        return try await store.client.withTransaction(logger: store.logger) { [store] db -> Int in
            let removed = try await queue.removeStalePrivateJobs(olderThanHours: Self.hours, limit: limit, on: db)
            let reason = ActivityReason.outsideWindow.rawValue
            for (_, payload) in removed {
                guard let event = try? JSONDecoder().decode(InboundEvent.self, from: Data(payload.readableBytesView)),
                    event.kind == .message || event.kind == .postback, let mid = event.mid, let customer = event.customerID,
                    let connection = try await store.connections.connection(instagramUserID: event.accountID),
                    try await store.conversations.markHandled(mid: mid, kind: event.kind.rawValue, accountID: connection.accountID, on: db)
                else { continue }
                try await store.activity.add(
                    ActivityEntry(
                        customerID: customer, eventKind: event.kind.rawValue, summary: InboundHandler.text(of: event),
                        outcome: ActivityOutcome.skipped.rawValue, reason: reason, mid: mid),
                    accountID: connection.accountID, on: db)
                try await store.activity.count([CountMetric.received, CountMetric.skipped(reason)], accountID: connection.accountID, on: db)
            }
            return removed.count
        }
    }
}
