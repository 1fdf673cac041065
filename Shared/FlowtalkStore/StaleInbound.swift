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
            for (_, payload) in removed {
                guard let event = try? JSONDecoder().decode(InboundEvent.self, from: Data(payload.readableBytesView)), let mid = event.mid,
                    let customer = event.customerID, let connection = try await connections.connection(instagramUserID: event.accountID)
                else { continue }
                let account = connection.accountID
                func log(_ outcome: ActivityOutcome, _ reason: ActivityReason, summary: String?, counts: [String]) async throws {
                    try await activity.add(
                        ActivityEntry(customerID: customer, eventKind: event.logKind, summary: summary, outcome: outcome.rawValue, reason: reason.rawValue, mid: mid),
                        accountID: account, on: db)
                    try await activity.count(counts, accountID: account, on: db)
                }
                switch event.kind {
                case .deleted:
                    // An unsend that waited as long: it still takes the message's text out of the log.
                    _ = try await conversations.recordUnsend(mid: mid, accountID: account, customerID: customer, eventKind: event.logKind, on: db)
                case .message, .postback:
                    let unsent = try await queue.wasEnqueued(dedupeKey: InboundEventJob.unsendDedupeKey(mid: mid))
                    let text = unsent ? nil : (event.kind == .postback ? (event.postbackTitle ?? event.postbackPayload) : event.text)
                    let reason = ActivityReason.outsideWindow
                    if try await conversations.markHandled(mid: mid, kind: event.logKind, accountID: account, on: db) {
                        try await log(.skipped, reason, summary: text, counts: [CountMetric.received, CountMetric.skipped(reason.rawValue)])
                    } else if try await conversations.endWaitingReplies(accountID: account, inboundMID: mid, reason: reason.rawValue, on: db) {
                        // Decided earlier, its reply parked for retries until the window closed: it ends here.
                        try await log(.skipped, reason, summary: text, counts: [CountMetric.skipped(reason.rawValue)])
                    }
                default:
                    continue
                }
            }
            return removed.count
        }
    }
}
