import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import Foundation
import InstagramGraph
import Logging
import Metrics

extension AccountJobs {
    /// The daily connection check: `GET /me` with the token (does Instagram still take it?) and the account's webhook
    /// subscription (`GET /{ig_id}/subscribed_apps`: are `messages` still delivered?). A refused token marks the
    /// connection as needing reconnecting, with why (expired or revoked), before a customer's reply finds out.
    /// Counted in `flowtalk_connection_checks_total{outcome}` (`ok`, `webhooks_off`, `token_invalid`, `error`).
    func checkConnection(_ job: ClaimedJob, logger: Logger) async throws {
        guard let accountID = ConnectionCheckJob.accountID(job.payload) else { throw JobFailure.permanent("undecodable payload") }
        guard let state = try await store.connections.tokenState(accountID: accountID), state.connection.status == "active" else { return }
        let connection = state.connection
        let token: Secret<String>
        do {
            token = try vault.open(connection.tokenSealed, for: connection.owner)
        } catch {
            // The server's key cannot open it (a vault key missing on this replica?): an operator's problem, not the
            // business's, so the connection is not marked for reconnecting; the error log says so.
            logger.error("Stored token cannot be opened for the connection check")
            try await record(accountID, connection, ok: false, webhooks: nil, error: "token_unreadable", outcome: "error", logger: logger)
            return
        }
        do {
            _ = try await graph.identity(token)
            let fields = try await graph.subscribedFields(instagramUserID: connection.instagramUserID, token: token)
            let subscribed = fields.contains("messages")
            try await record(accountID, connection, ok: true, webhooks: subscribed, error: nil, outcome: subscribed ? "ok" : "webhooks_off", logger: logger)
        } catch GraphError.tokenInvalid(let subcode) {
            try await record(
                accountID, connection, ok: false, webhooks: nil, error: Self.tokenReason(subcode), reconnect: true, outcome: "token_invalid", logger: logger)
        } catch let error as GraphError {
            Counter(label: "flowtalk_connection_checks_total", dimensions: [("outcome", "error")]).increment()
            if job.attempt < job.maxAttempts { throw JobFailure.retryAfter(Backoff.delay(attempt: Int(job.attempt), base: .seconds(60)), error.reason) }
            // Instagram did not answer all day: the check runs again tomorrow; the connection is left as it is.
            logger.notice("Connection check gave up", metadata: ["graph.reason": "\(error.reason)"])
        }
    }

    /// Meta's subcodes of error 190: 463 the token expired; 458 (app removed) and 460 (password changed) it was revoked.
    static func tokenReason(_ subcode: Int?) -> String {
        switch subcode {
        case 463?: "token_expired"
        case 458?, 460?: "token_revoked"
        default: "token_invalid"
        }
    }

    private func record(
        _ accountID: UUID, _ connection: ConnectionRecord, ok: Bool, webhooks: Bool?, error: String?, reconnect: Bool = false, outcome: String,
        logger: Logger
    ) async throws {
        try await store.connections.recordCheck(
            accountID: accountID, instagramUserID: connection.instagramUserID, ok: ok, webhooksSubscribed: webhooks, error: error, reconnect: reconnect)
        Counter(label: "flowtalk_connection_checks_total", dimensions: [("outcome", outcome)]).increment()
        logger.info("Connection checked", metadata: ["check.outcome": "\(outcome)"])
    }
}
