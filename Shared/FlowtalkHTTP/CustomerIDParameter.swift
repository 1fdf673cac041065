import FlowtalkCore

/// A customer's Instagram-scoped id given by the dashboard (a path segment or a query value): what a webhook would
/// accept as an id, at most 64 characters; else 400 `invalid_customer_id`.
package enum CustomerIDParameter {
    package static func validated(_ raw: some StringProtocol) throws -> String {
        guard let id = InstagramWebhook.validID(String(raw)), id.count <= 64 else {
            throw APIError.badRequest("That is not an Instagram-scoped id.", code: "invalid_customer_id")
        }
        return id
    }
}
