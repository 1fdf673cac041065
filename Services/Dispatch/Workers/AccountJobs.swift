import FlowtalkCore
import FlowtalkStore
import Foundation
import InstagramGraph
import Logging
import NIOCore

/// Jobs about an account rather than a message: pushing its Ice Breakers to Instagram and keeping its token alive.
struct AccountJobs: Sendable {
    let store: DispatchStores
    let graph: GraphClient
    let vault: TokenVault
    let queue: JobQueue

    var handlers: [String: JobHandler] {
        [
            IceBreakersSyncJob.kind: { job, logger in try await self.syncIceBreakers(job, logger: logger) },
            TokenRefreshJob.kind: { job, logger in try await self.refreshToken(job, logger: logger) },
            ConnectionCheckJob.kind: { job, logger in try await self.checkConnection(job, logger: logger) },
        ]
    }

    private func accountID(_ job: ClaimedJob) throws -> UUID {
        guard let id = IceBreakersSyncJob.accountID(job.payload) else { throw JobFailure.permanent("undecodable payload") }
        return id
    }

    func syncIceBreakers(_ job: ClaimedJob, logger: Logger) async throws {
        let accountID = try accountID(job)
        guard let state = try await store.connections.tokenState(accountID: accountID), state.connection.status == "active" else {
            logger.notice("Ice Breaker sync skipped: no active connection")
            return
        }
        let token = try openToken(state.connection)
        let list = try await store.automation.iceBreakers(accountID: accountID)
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
        guard let state = try await store.connections.tokenState(accountID: accountID), state.connection.status == "active" else {
            logger.notice("Token refresh skipped: no active connection")
            return
        }
        let now = Date()
        let due = max(state.refreshedAt.addingTimeInterval(86_400), TokenRefreshJob.due(expiresAt: state.expiresAt ?? now))
        if due > now {
            // Not yet: come back when it is due.
            try await queue.enqueue([TokenRefreshJob.make(accountID: accountID, runAt: due)])
            return
        }
        let token = try openToken(state.connection)
        do {
            let fresh = try await graph.refreshToken(token)
            let expiresAt = now.addingTimeInterval(Double(fresh.expiresIn))
            try await store.connections.storeRefreshedToken(accountID: accountID, sealed: try vault.seal(fresh.token, for: state.connection.owner), expiresAt: expiresAt)
            try await queue.enqueue([TokenRefreshJob.make(accountID: accountID, runAt: TokenRefreshJob.due(expiresAt: expiresAt))])
            logger.info("Token refreshed", metadata: ["token.expires_in_days": "\(fresh.expiresIn / 86_400)"])
            try await backfillAppScopedID(state.connection, token: fresh.token, logger: logger)
        } catch let error as GraphError {
            try await handle(error, accountID: accountID, logger: logger)
        }
    }

    /// A connection made before migration 15 has no app-scoped id, which Meta's callbacks may name: `/me` gives it.
    /// Best effort: the refresh has succeeded, and the next one tries again.
    private func backfillAppScopedID(_ connection: ConnectionRecord, token: Secret<String>, logger: Logger) async throws {
        do {
            guard try await store.connections.lacksAppScopedID(accountID: connection.accountID) else { return }
            let me = try await graph.identity(token)
            if let appScopedID = me.appScopedID, me.userID == connection.instagramUserID {
                try await store.connections.storeAppScopedID(appScopedID, accountID: connection.accountID, instagramUserID: connection.instagramUserID)
            }
        } catch {
            logger.notice("App-scoped id not fetched; the next refresh tries again", metadata: ["error.type": "\(type(of: error))"])
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
            try await store.connections.markNeedsReconnect(accountID: accountID)
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
