import FlowtalkHTTP
import Hummingbird

/// The `limit` and `before` of a paged list (the activity log, the conversations), checked the same way for both.
enum Paging {
    /// `limit`: 1–100 (`defaultLimit` when absent); `before`: a positive id from an earlier page's `next_before`.
    static func parse(_ query: Parameters, defaultLimit: Int, cursor: String) throws -> (limit: Int, before: Int64?) {
        var limit = defaultLimit
        if let text = query["limit"] {
            guard let value = Int(text), (1...100).contains(value) else {
                throw APIError.badRequest("limit must be a whole number from 1 to 100.", code: "invalid_limit")
            }
            limit = value
        }
        var before: Int64?
        if let text = query["before"], !text.isEmpty {
            guard let value = Int64(text), value > 0 else { throw APIError.badRequest("before must be \(cursor) from an earlier page.", code: "invalid_cursor") }
            before = value
        }
        return (limit, before)
    }
}
