import FlowtalkCore
import FlowtalkStore
import Foundation
import InstagramGraph
import Logging
import NIOCore

/// Jobs about an account rather than a message: pushing its Ice Breakers to Instagram and keeping its token alive.
struct AccountJobs: Sendable {
    static let iceBreakerSync = "instagram.ice_breakers_sync"
    static let tokenRefresh = "instagram.token_refresh"
    /// Refresh a token once it is over a day old and within this many days of expiry (Meta: 60-day tokens).
    static let refreshWindowDays = 10.0

    let store: DispatchStore
    let graph: GraphClient
    let vault: TokenVault
    let queue: JobQueue

    var handlers: [String: JobHandler] {
        [
            Self.iceBreakerSync: { job, logger in try await self.syncIceBreakers(job, logger: logger) },
            Self.tokenRefresh: { job, logger in try await self.refreshToken(job, logger: logger) },
        ]
    }

    /// The job that pushes an account's Ice Breakers (auth enqueues it when they are saved).
    static func iceBreakerSyncJob(accountID: UUID) -> NewJob {
        NewJob(kind: iceBreakerSync, payload: ByteBuffer(string: accountID.uuidString), serializationKey: "account:\(accountID):ice_breakers", maxAttempts: 6)
    }

    /// The job that renews an account's token at `runAt` (at connect, and after each refresh).
    static func tokenRefreshJob(accountID: UUID, runAt: Date?) -> NewJob {
        let day = Int((runAt ?? Date()).timeIntervalSince1970 / 86_400)
        return NewJob(
            kind: tokenRefresh, payload: ByteBuffer(string: accountID.uuidString), dedupeKey: "token_refresh:\(accountID):\(day)",
            serializationKey: "account:\(accountID):token", runAt: runAt, maxAttempts: 8)
    }

    private func accountID(_ job: ClaimedJob) throws -> UUID {
        guard let id = UUID(uuidString: String(buffer: job.payload)) else { throw JobFailure.permanent("undecodable payload") }
        return id
    }

    func syncIceBreakers(_ job: ClaimedJob, logger: Logger) async throws {
        let accountID = try accountID(job)
        guard let state = try await store.tokenState(accountID: accountID), state.connection.status == "active" else {
            logger.notice("Ice Breaker sync skipped: no active connection")
            return
        }
        let token = try openToken(state.connection)
        let list = try await store.iceBreakers(accountID: accountID)
        do {
            try await graph.setIceBreakers(
                instagramUserID: state.connection.instagramUserID, questions: list.map { ($0.question, $0.payload) }, token: token)
            logger.info("Ice Breakers synced", metadata: ["ice_breakers.count": "\(list.count)"])
        } catch let error as GraphError {
            try await handle(error, accountID: accountID, logger: logger)
        }
    }

    func refreshToken(_ job: ClaimedJob, logger: Logger) async throws {
        let accountID = try accountID(job)
        guard let state = try await store.tokenState(accountID: accountID), state.connection.status == "active" else {
            logger.notice("Token refresh skipped: no active connection")
            return
        }
        let now = Date()
        let due = max(state.refreshedAt.addingTimeInterval(86_400), (state.expiresAt ?? now).addingTimeInterval(-Self.refreshWindowDays * 86_400))
        if due > now {
            // Not yet: come back when it is due.
            try await queue.enqueue([Self.tokenRefreshJob(accountID: accountID, runAt: due)])
            return
        }
        let token = try openToken(state.connection)
        do {
            let fresh = try await graph.refreshToken(token)
            let expiresAt = now.addingTimeInterval(Double(fresh.expiresIn))
            try await store.storeRefreshedToken(accountID: accountID, sealed: try vault.seal(fresh.token, for: state.connection.owner), expiresAt: expiresAt)
            try await queue.enqueue([Self.tokenRefreshJob(accountID: accountID, runAt: expiresAt.addingTimeInterval(-Self.refreshWindowDays * 86_400))])
            logger.info("Token refreshed", metadata: ["token.expires_in_days": "\(fresh.expiresIn / 86_400)"])
        } catch let error as GraphError {
            try await handle(error, accountID: accountID, logger: logger)
        }
    }

    private func openToken(_ connection: ConnectionRecord) throws -> Secret<String> {
        do {
            return try vault.open(connection.tokenSealed, for: connection.owner)
        } catch {
            throw JobFailure.permanent("token_unreadable")
        }
    }

    private func handle(_ error: GraphError, accountID: UUID, logger: Logger) async throws {
        switch error {
        case .tokenInvalid:
            try await store.markNeedsReconnect(accountID: accountID)
            logger.notice("Connection needs reconnecting", metadata: ["graph.reason": "\(error.reason)"])
        case .rateLimited(let seconds?):
            throw JobFailure.retryAfter(.seconds(seconds), error.reason)
        case .rateLimited, .transient, .ambiguous:
            // Both calls are idempotent (they set state), so retrying an unknown outcome is safe.
            throw JobFailure.retryAfter(Backoff.delay(attempt: 3), error.reason)
        default:
            throw JobFailure.permanent(error.reason)
        }
    }
}
