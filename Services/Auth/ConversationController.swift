import FlowtalkContracts
import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import Foundation
import Hummingbird
import Logging

/// `POST /api/conversations/{igsid}/pause`: the business pauses the bot for one customer (a person takes the
/// conversation), or turns it back on. Dispatch owns conversations, so this queues the change in the conversation's own
/// order (after the customer's messages already queued) and answers 202.
struct ConversationController: Sendable {
    let client: Database
    let limiter: RateLimiter
    let logger: Logger

    /// A week, like the pause after a person answers (`human_pause_minutes`).
    static let maximumMinutes = 10_080

    func add(to api: RouterGroup<AuthRequestContext>) {
        api.post("conversations/:igsid/pause", use: pause)
    }

    struct Input: Decodable { let minutes: Int }
    struct Queued: Encodable {
        let status: String
        let minutes: Int
    }

    func pause(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let account = try context.requireSession().accountID
        try await limiter.enforce("conversation-pause:account:\(account)", limit: 120, window: .seconds(900))
        let customer = try CustomerController.customerID(context)
        let minutes = try await request.decode(as: Input.self, context: context).minutes
        guard (0...Self.maximumMinutes).contains(minutes) else {
            throw APIError.invalid("minutes", "Pause for 0 to 10,080 minutes (a week); 0 turns the bot back on.", code: "invalid_pause")
        }
        guard let connection = try await ConnectionStore(client: client, logger: logger).tokenState(accountID: account)?.connection else {
            throw APIError(.conflict, code: "not_connected", message: "Connect Instagram first: there is no conversation to pause.")
        }
        let job = try ConversationPauseJob(accountID: account, customerID: customer, minutes: minutes).make(instagramUserID: connection.instagramUserID)
        _ = try await JobQueue(client: client, logger: logger).enqueue([job])
        context.logger.info("Conversation pause queued", metadata: ["pause.minutes": "\(minutes)"])
        return try JSONResponse.make(Queued(status: "queued", minutes: minutes), status: .accepted)
    }
}
