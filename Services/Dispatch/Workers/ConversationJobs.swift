import FlowtalkContracts
import FlowtalkStore
import Foundation
import Logging
import NIOCore

/// Jobs about one conversation that come from the dashboard: the business pausing the bot for a customer, or turning
/// it back on (`ConversationPauseJob`, queued by auth in the conversation's order).
struct ConversationJobs: Sendable {
    let ledger: ReplyLedger

    var handlers: [String: JobHandler] {
        [ConversationPauseJob.kind: { job, logger in try await self.pause(job, logger: logger) }]
    }

    func pause(_ job: ClaimedJob, logger: Logger) async throws {
        guard let request = try? JSONDecoder().decode(ConversationPauseJob.self, from: Data(job.payload.readableBytesView)),
            (0...10_080).contains(request.minutes)
        else { throw JobFailure.permanent("undecodable payload") }
        try await ledger.ownerPause(accountID: request.accountID, customerID: request.customerID, minutes: request.minutes)
        logger.info(request.minutes > 0 ? "Conversation paused by the business" : "Conversation resumed by the business")
    }
}
