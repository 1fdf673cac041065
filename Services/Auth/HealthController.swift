import FlowtalkHTTP
import FlowtalkStore
import Foundation
import Hummingbird
import Logging

/// `GET /api/health`: whether the account's bot is answering, for the strip every dashboard page shows. Problems, most
/// urgent first: Instagram not connected or needing reconnecting (with why), nobody answering (no rule enabled and AI
/// off), the AI paused by its circuit breaker, replies failing; and the counts the onboarding checklist follows.
struct HealthController: Sendable {
    let client: Database
    let logger: Logger

    func add(to api: RouterGroup<AuthRequestContext>) {
        api.get("health", use: health)
    }

    struct Problem: Encodable, Equatable {
        let code: String
        var reason: String? = nil
        var count: Int? = nil
    }

    struct Health: Encodable {
        let instagram: String
        let rules_enabled: Int
        let ai_enabled: Bool
        let ice_breakers: Int
        let messages_received: Int
        let replies_sent: Int
        /// Conversations a hand-off rule handed to a person, still waiting (paused).
        let waiting_for_you: Int
        let problems: [Problem]
        /// Null when not connected.
        @Nullable var connection: Connection?
    }

    /// The connection's token and webhooks, as the daily check last found them. Nulls are written out.
    struct Connection: Encodable {
        @Nullable var username: String?
        @Nullable var token_expires_at: Date?
        @Nullable var token_refreshed_at: Date?
        @Nullable var last_check_at: Date?
        @Nullable var last_check_ok: Bool?
        @Nullable var webhooks_subscribed: Bool?

        init(_ health: ConnectionHealth) {
            username = health.username
            token_expires_at = health.tokenExpiresAt
            token_refreshed_at = health.tokenRefreshedAt
            last_check_at = health.lastCheckAt
            last_check_ok = health.lastCheckOK
            webhooks_subscribed = health.webhooksSubscribed
        }
    }

    /// The problems the facts show; no I/O, so each rule is tested with plain values.
    /// `connection`: the daily check's findings (why the token was refused; webhooks off).
    static func problems(_ facts: AccountHealthFacts, connection: ConnectionHealth? = nil) -> [Problem] {
        var problems: [Problem] = []
        switch facts.instagram {
        case "not_connected": problems.append(Problem(code: "not_connected"))
        case "needs_reconnect":
            // The check's finding when it was Instagram's (an unreadable token is this server's, not a reason to reconnect).
            let found = connection?.lastCheckError.flatMap { $0 == "token_unreadable" ? nil : $0 }
            problems.append(Problem(code: "needs_reconnect", reason: found ?? facts.lastTokenRefusal ?? "token_invalid"))
        default:
            // Connected, but Instagram no longer delivers its messages here: reconnecting subscribes them again.
            if connection?.webhooksSubscribed == false { problems.append(Problem(code: "webhooks_off")) }
        }
        // Ice Breakers answer only taps: a typed DM needs a rule or the AI.
        if facts.rulesEnabled == 0 && !facts.aiEnabled { problems.append(Problem(code: "nobody_answering")) }
        // Paused: the breaker held an answer back lately and no AI answer has gone out since.
        if facts.aiEnabled, let held = facts.lastCircuitOpenAt, facts.lastAIReplyAt.map({ $0 < held }) ?? true {
            problems.append(Problem(code: "ai_paused"))
        }
        // Failing: at least 3 failed sends in the last hour, and no more replies than failures.
        // (Failing for the token is already "needs reconnecting".)
        let tokenFailures = facts.instagram == "needs_reconnect" && ["token_invalid", "token_unreadable"].contains(facts.commonestFailure ?? "")
        if facts.failedLastHour >= 3 && facts.failedLastHour >= facts.repliedLastHour && !tokenFailures {
            problems.append(Problem(code: "replies_failing", reason: facts.commonestFailure, count: facts.failedLastHour))
        }
        return problems
    }

    func health(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let account = try context.requireSession().accountID
        let facts = try await AccountStore(client: client, logger: logger).healthFacts(accountID: account)
        let connection = try await ConnectionStore(client: client, logger: logger).connectionHealth(accountID: account)
        let instagram = facts.instagram == "active" ? "connected" : facts.instagram
        return try JSONResponse.make(["health": Health(
            instagram: instagram, rules_enabled: facts.rulesEnabled, ai_enabled: facts.aiEnabled, ice_breakers: facts.iceBreakers,
            messages_received: facts.messagesReceived, replies_sent: facts.repliesSent, waiting_for_you: facts.waitingForYou,
            problems: Self.problems(facts, connection: connection), connection: connection.map(Connection.init))])
    }
}
