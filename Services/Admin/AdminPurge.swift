import FlowtalkStore
import Foundation
import Logging

/// `flowtalk-admin purge`: every purge the services run hourly, now, with what each deleted.
struct AdminPurge {
    let database: Database
    let logger: Logger

    func run() async throws -> [(String, Int)] {
        let conversations = ConversationStore(client: database, logger: logger)
        var stale = 0
        while true {
            let removed = try await StaleInbound(client: database, logger: logger).expire()
            stale += removed
            if removed < 500 { break }
        }
        try await conversations.purgeAIUsage()
        let queue = try await JobQueue(client: database, logger: logger).purge()
        return [
            ("activity entries older than 90 days", try await ActivityStore(client: database, logger: logger).purgeActivity(pause: .zero)),
            ("conversations, replies and sent-message ids unused for 30 days", try await conversations.purgeIdle()),
            ("handled-event markers older than 30 days", try await conversations.purgeHandledEvents(olderThanDays: 30)),
            ("inbound messages still queued after 25 hours", stale),
            ("dead jobs (14 days) and dedupe keys (7 days)", queue.dead + queue.dedupeKeys),
            ("expired sessions", try await SessionStore(client: database, logger: logger).purgeExpired()),
            ("expired OAuth states", try await ConnectionStore(client: database, logger: logger).purgeExpiredOAuthStates()),
            ("expired mailed links", try await AccountStore(client: database, logger: logger).purgeExpiredTokens()),
            ("ended rate-limit windows", try await RateLimiter(client: database, logger: logger).purgeStale()),
            ("sign-in failures a day old", try await SignInThrottle(client: database, logger: logger).purge()),
            ("ids of connections removed 90 days ago", try await ConnectionStore(client: database, logger: logger).purgeFormerConnections()),
        ]
    }
}
