import FlowtalkCore
import Foundation
import NIOCore

/// The queue's serialization keys, built here only: the service that enqueues a job, the one that handles it and the
/// one that cancels it (account deletion, deauthorization) all use these, never a string of their own.
package enum QueueKeys {
    /// One customer's conversation with one Instagram account: its events run one at a time, in order.
    package static func conversation(instagramUserID: String, customerID: String) -> String { conversations(instagramUserID: instagramUserID) + customerID }
    /// What every conversation key of an Instagram account starts with.
    package static func conversations(instagramUserID: String) -> String { "conv:\(instagramUserID):" }
    /// One kind of upkeep of one Flowtalk account (its token, its Ice Breakers): one at a time.
    package static func account(_ accountID: UUID, _ purpose: String) -> String { accountJobs(accountID) + purpose }
    /// What every account key of an account starts with.
    package static func accountJobs(_ accountID: UUID) -> String { "account:\(accountID):" }
}

/// A webhook event for dispatch (ingest enqueues it, dispatch's InboundHandler handles it): one job per event, deduplicated
/// by Meta's message id, serialized per conversation.
package enum InboundEventJob {
    package static func kind(_ kind: InboundEvent.Kind) -> String { "inbound.\(kind.rawValue)" }
    package static var kinds: [String] { InboundEvent.Kind.allCases.map(kind) }

    /// Meta redelivers, and the same event must yield one job (reference §2.6: `mid` + kind).
    package static func dedupeKey(_ event: InboundEvent) -> String {
        if let mid = event.mid { return "ig:\(event.kind.rawValue):\(mid)" }
        return "ig:\(event.kind.rawValue):\(event.accountID):\(event.customerID ?? "-"):\(event.timestampMs):\(event.postbackPayload ?? "")"
    }

    /// The dedupe key of the unsend of message `mid`: a message's job that finds it queued (or done) does not answer.
    package static func unsendDedupeKey(mid: String) -> String { "ig:\(InboundEvent.Kind.deleted.rawValue):\(mid)" }

    /// The conversation, so one customer's events are handled one at a time and in order.
    package static func serializationKey(_ event: InboundEvent) -> String? {
        event.customerID.map { QueueKeys.conversation(instagramUserID: event.accountID, customerID: $0) }
    }

    package static func make(_ event: InboundEvent) -> NewJob {
        NewJob(kind: kind(event.kind), payload: ByteBuffer(bytes: event.jsonBytes()), dedupeKey: dedupeKey(event), serializationKey: serializationKey(event))
    }
}

/// Jobs whose payload is the account id.
package protocol AccountJob {
    static var kind: String { get }
}

extension AccountJob {
    /// The account a job is about, or nil when the payload is not an account id.
    package static func accountID(_ payload: ByteBuffer) -> UUID? { UUID(uuidString: String(buffer: payload)) }
    static func payload(_ accountID: UUID) -> ByteBuffer { ByteBuffer(string: accountID.uuidString) }
}

/// Pushes an account's Ice Breakers to Instagram (auth enqueues it when they are saved; dispatch handles it).
package enum IceBreakersSyncJob: AccountJob {
    package static let kind = "instagram.ice_breakers_sync"
    package static func make(accountID: UUID) -> NewJob {
        NewJob(kind: kind, payload: payload(accountID), serializationKey: QueueKeys.account(accountID, "ice_breakers"), maxAttempts: 6)
    }
}

/// Renews an account's token (auth enqueues the first at connect; dispatch handles it and enqueues the next).
package enum TokenRefreshJob: AccountJob {
    package static let kind = "instagram.token_refresh"
    /// Refresh a token once it is over a day old and within this many days of expiry (Meta: 60-day tokens).
    package static let windowDays = 10.0

    /// When a token that expires at `expiresAt` is to be refreshed.
    package static func due(expiresAt: Date) -> Date { expiresAt.addingTimeInterval(-windowDays * 86_400) }

    /// One job per account and day: a second enqueue for the same day is the same job.
    package static func make(accountID: UUID, runAt: Date?) -> NewJob {
        let day = Int((runAt ?? Date()).timeIntervalSince1970 / 86_400)
        return NewJob(
            kind: kind, payload: payload(accountID), dedupeKey: "token_refresh:\(accountID):\(day)",
            serializationKey: QueueKeys.account(accountID, "token"), runAt: runAt, maxAttempts: 8)
    }
}

/// Checks an account's token and webhook subscription with light Graph calls, once a day (dispatch enqueues and handles it).
package enum ConnectionCheckJob: AccountJob {
    package static let kind = "instagram.connection_check"
    /// One job per account and UTC day, however many replicas enqueue it.
    package static func make(accountID: UUID, now: Date = Date()) -> NewJob {
        let day = Int(now.timeIntervalSince1970 / 86_400)
        return NewJob(
            kind: kind, payload: payload(accountID), dedupeKey: "connection_check:\(accountID):\(day)",
            serializationKey: QueueKeys.account(accountID, "token"), maxAttempts: 5)
    }
}

/// The activity log's retention purge (analytics enqueues and handles it): once per UTC hour however many replicas run.
package enum RetentionPurgeJob {
    package static let kind = "analytics.retention_purge"
    package static func make(now: Date = Date()) -> NewJob {
        let hour = Int(now.timeIntervalSince1970 / 3600)
        return NewJob(kind: kind, payload: ByteBuffer(), dedupeKey: "retention:\(hour)", serializationKey: "analytics:retention", maxAttempts: 3)
    }
}

/// The hourly purge of what can never be used again: expired sessions and OAuth states, finished rate-limit windows and
/// forgotten sign-in failures (auth enqueues and handles it): once per UTC hour however many replicas run.
package enum AuthPurgeJob {
    package static let kind = "auth.purge"
    package static func make(now: Date = Date()) -> NewJob {
        let hour = Int(now.timeIntervalSince1970 / 3600)
        return NewJob(kind: kind, payload: ByteBuffer(), dedupeKey: "auth_purge:\(hour)", serializationKey: "auth:purge", maxAttempts: 3)
    }
}

/// The business pausing the bot for one customer from the dashboard (`minutes` 1–10,080), or turning it back on (0).
/// Auth queues it; dispatch owns conversations and handles it in the conversation's order.
package struct ConversationPauseJob: Codable, Sendable, Equatable {
    package static let kind = "conversation.pause"
    package let accountID: UUID
    package let customerID: String
    package let minutes: Int

    package init(accountID: UUID, customerID: String, minutes: Int) {
        self.accountID = accountID
        self.customerID = customerID
        self.minutes = minutes
    }

    package func make(instagramUserID: String) throws -> NewJob {
        NewJob(
            kind: Self.kind, payload: ByteBuffer(bytes: try JSONEncoder().encode(self)),
            serializationKey: QueueKeys.conversation(instagramUserID: instagramUserID, customerID: customerID), maxAttempts: 6)
    }
}
