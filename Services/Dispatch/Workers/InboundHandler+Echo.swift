import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import Foundation
import Logging

extension InboundHandler {
    /// An echo of our own message whose recording was interrupted: the reply is confirmed sent, counted as replied
    /// instead of unknown, and the conversation is not paused (it was the bot, not a person). True when it was ours.
    func confirmInterruptedReply(_ event: InboundEvent, mid: String, customer: String, _ connection: ConnectionRecord, logger: Logger)
        async throws -> Bool
    {
        let accountID = connection.accountID
        let confirmed = try await store.client.withTransaction(logger: store.logger) { [store] db -> Bool in
            guard let (reply, was, decidedAt) = try await store.conversations.confirmBySentEcho(
                mid: mid, accountID: accountID, customerID: customer, echoAtMs: event.timestampMs, on: db)
            else { return false }
            guard try await store.conversations.markHandled(mid: mid, kind: event.kind.rawValue, accountID: accountID, on: db),
                was == ReplyState.unknown.rawValue
            else { return true }
            try await store.activity.add(
                ActivityEntry(
                    customerID: customer, eventKind: event.kind.rawValue, summary: nil, outcome: ActivityOutcome.replied.rawValue, source: reply.source,
                    ruleID: reply.ruleID, reason: ActivityReason.confirmedByEcho.rawValue),
                accountID: accountID, on: db)
            var deltas = [CountMetric.unknown: -1, CountMetric.replied(source: reply.source): 1]
            if let rule = reply.ruleID { deltas[CountMetric.rule(rule.uuidString.lowercased())] = 1 }
            if reply.source == "fallback", let note = reply.note { deltas[CountMetric.fallback(note)] = 1 }
            // In the hour the reply was counted unknown, so no hour is left with a negative count.
            try await store.activity.adjust(deltas, accountID: accountID, at: decidedAt, on: db)
            return true
        }
        if confirmed { logger.info("Interrupted reply confirmed by its echo") }
        return confirmed
    }
}
