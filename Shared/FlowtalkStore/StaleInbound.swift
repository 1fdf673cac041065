import FlowtalkContracts
import FlowtalkCore
import Foundation
import Logging
import NIOCore

/// Inbound jobs still waiting 25 hours after they were queued (a long outage, a chain of retries): Instagram's 24-hour
/// reply window has closed, so the message can no longer be answered and its text has no use left in the queue. Each
/// is removed, and the activity log records the message as not answered because the window closed.
/// Run hourly by flowtalk-dispatch's maintenance, and by `flowtalk-admin purge`.
package struct StaleInbound: Sendable {
    let client: Database
    let logger: Logger
    package static let hours = 25

    package init(client: Database, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Removes up to `limit` such jobs in one transaction; returns how many.
    package func expire(limit: Int = 500) async throws -> Int {
        let queue = JobQueue(client: client, logger: logger)
        let connections = ConnectionStore(client: client, logger: logger)
        let conversations = ConversationStore(client: client, logger: logger)
        let activity = ActivityStore(client: client, logger: logger)
        return try await client.withTransaction(logger: logger) { db -> Int in
            let removed = try await queue.removeStalePrivateJobs(olderThanHours: Self.hours, limit: limit, on: db)
            let reason = ActivityReason.outsideWindow.rawValue
            for (_, payload) in removed {
                guard let event = try? JSONDecoder().decode(InboundEvent.self, from: Data(payload.readableBytesView)),
                    event.kind == .message || event.kind == .postback, let mid = event.mid, let customer = event.customerID,
                    let connection = try await connections.connection(instagramUserID: event.accountID),
                    try await conversations.markHandled(mid: mid, kind: event.kind.rawValue, accountID: connection.accountID, on: db)
                else { continue }
                try await activity.add(
                    ActivityEntry(
                        customerID: customer, eventKind: event.kind.rawValue, summary: event.kind == .postback ? (event.postbackTitle ?? event.postbackPayload) : event.text,
                        outcome: ActivityOutcome.skipped.rawValue, reason: reason, mid: mid),
                    accountID: connection.accountID, on: db)
                try await activity.count([CountMetric.received, CountMetric.skipped(reason)], accountID: connection.accountID, on: db)
            }
            return removed.count
        }
    }
}
