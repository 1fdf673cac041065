import FlowtalkStore
import Foundation
import Logging

/// The hourly purge of auth's tables (`auth.purge`): sessions past their expiry or idle timeout, OAuth states past
/// their 10 minutes, mailed links past theirs, rate-limit windows that ended a day ago, and sign-in failures a day old. None of these rows can
/// be used again; without the purge they would pile up for ever.
struct Housekeeping: Sendable {
    let database: Database
    let queue: JobQueue
    let logger: Logger

    var handlers: [String: JobHandler] {
        [AuthPurgeJob.kind: { _, logger in
            let counts = try await purge()
            logger.info("Auth purge done", metadata: [
                "auth.purged_sessions": "\(counts.sessions)", "auth.purged_oauth_states": "\(counts.oauthStates)",
                "auth.purged_rate_limits": "\(counts.rateLimits)", "auth.purged_sign_in_failures": "\(counts.signInFailures)",
                "auth.purged_links": "\(counts.links)", "auth.purged_former_connections": "\(counts.formerConnections)",
            ])
        }]
    }

    /// Deletes every expired row now; returns how many of each.
    func purge() async throws -> (sessions: Int, oauthStates: Int, rateLimits: Int, signInFailures: Int, links: Int, formerConnections: Int) {
        (
            try await SessionStore(client: database, logger: logger).purgeExpired(),
            try await ConnectionStore(client: database, logger: logger).purgeExpiredOAuthStates(),
            try await RateLimiter(client: database, logger: logger).purgeStale(),
            try await SignInThrottle(client: database, logger: logger).purge(),
            try await AccountStore(client: database, logger: logger).purgeExpiredTokens(),
            try await ConnectionStore(client: database, logger: logger).purgeFormerConnections()
        )
    }

    /// Queues this hour's purge (a no-op when a replica already did).
    func schedule(now: Date = Date()) async throws {
        _ = try await queue.enqueue([AuthPurgeJob.make(now: now)])
    }
}
