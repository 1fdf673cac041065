import FlowtalkContracts
import Foundation
import Logging
import PostgresNIO

/// What a customer's unsend of message `mid` does, once, in the caller's transaction: the log entries about the message
/// lose their text (and the reply's), a reply not yet sent ends `skipped`, and the unsend is logged and counted
/// (`ignored`, `message_deleted`: "unsent by the customer"). Dispatch runs it for an unsend's job, and `StaleInbound`
/// for one that waited past the reply window. False when it was recorded already.
extension ConversationStore {
    package static let unsentReason = "unsent_by_customer"

    package func recordUnsend(mid: String, accountID: UUID, customerID: String, eventKind: String, on db: DatabaseConnection) async throws -> Bool {
        guard try await markHandled(mid: mid, kind: eventKind, accountID: accountID, on: db) else { return false }
        let activity = ActivityStore(client: client, logger: logger)
        try await activity.forgetUnsent(mid: mid, accountID: accountID, on: db)
        try await endWaitingReplies(accountID: accountID, inboundMID: mid, reason: Self.unsentReason, on: db)
        let (outcome, reason) = (ActivityOutcome.ignored.rawValue, ActivityReason.messageDeleted.rawValue)
        try await activity.add(
            ActivityEntry(customerID: customerID, eventKind: eventKind, summary: nil, outcome: outcome, reason: reason, mid: mid), accountID: accountID, on: db)
        try await activity.count(["\(outcome):\(reason)"], accountID: accountID, on: db)
        return true
    }
}
