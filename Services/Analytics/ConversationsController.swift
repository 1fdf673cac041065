import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import Foundation
import Hummingbird

/// `GET /api/conversations`: the activity log grouped by customer, for the dashboard's Activity page; a conversation's
/// thread is `GET /api/activity?customer=…`.
struct ConversationsController: Sendable {
    let store: ActivityStore

    func add(to api: RouterGroup<AnalyticsRequestContext>) {
        api.get("conversations", use: list)
    }

    struct Conversation: Encodable, Equatable {
        let customer_id: String
        let last_id: String
        let last_at: Date
        let entries: Int
        let last_summary: String?
        let last_outcome: String
        let last_reason: String?
        let last_unsent_at: Date?
        /// While the bot is paused for this customer (a person answered, or the business paused it).
        let paused_until: Date?
    }

    struct Page: Encodable {
        let conversations: [Conversation]
        let next_before: String?
    }

    /// `?q=` (an Instagram-scoped id or 2–200 characters of a message or reply), `?customer=` (one conversation, exact),
    /// `?before=` (a `last_id`), `?limit=` (1–100).
    func list(_ request: Request, context: AnalyticsRequestContext) async throws -> Response {
        let account = try context.requireSession().accountID
        let query = request.uri.queryParameters
        let (limit, before) = try Paging.parse(query, defaultLimit: 30, cursor: "a conversation's last_id")
        var search: String?
        if let text = query["q"] {
            let trimmed = String(text).trimmingCharacters(in: .whitespaces)
            guard trimmed.count <= 200, !trimmed.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                throw APIError.invalid("q", "Search for at most 200 characters, without control characters.", code: "invalid_query")
            }
            // A single character would match nearly everything: searches start at two.
            guard trimmed.isEmpty || trimmed.count >= 2 else {
                throw APIError.invalid("q", "Search for at least 2 characters.", code: "invalid_query")
            }
            search = trimmed.isEmpty ? nil : trimmed
        }
        var customer: String?
        if let text = query["customer"], !text.isEmpty {
            customer = try CustomerIDParameter.validated(text)
        }
        var found = try await store.conversations(accountID: account, query: search, before: before, limit: limit, customerID: customer).map {
            Conversation(
                customer_id: $0.customerID, last_id: String($0.lastID), last_at: $0.lastAt, entries: $0.entries, last_summary: $0.lastSummary,
                last_outcome: $0.lastOutcome, last_reason: $0.lastReason, last_unsent_at: $0.lastUnsentAt, paused_until: $0.pausedUntil)
        }
        var next: String?
        if found.count > limit {
            found.removeLast()
            next = found.last?.last_id
        }
        return try JSONResponse.make(Page(conversations: found, next_before: next))
    }
}
