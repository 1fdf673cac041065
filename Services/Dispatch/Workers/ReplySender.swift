import FlowtalkCore
import InstagramGraph
import NIOCore

/// Sends a reply's text to a customer and returns Instagram's message ids, one per part; throws `GraphError` (or
/// `GraphClient.PartialSend` when only some parts went out). The Graph client in production; a fake in
/// DispatchServiceTests.
protocol ReplySender: Sendable {
    func sendText(from instagramUserID: String, to recipient: String, text: String, token: Secret<String>) async throws -> [String]
    /// The customer's username for `{username}`, or nil when it cannot be had.
    func customerUsername(_ igsid: String, token: Secret<String>, timeout: TimeAmount) async -> String?
}

extension ReplySender {
    func customerUsername(_ igsid: String, token: Secret<String>, timeout: TimeAmount) async -> String? { nil }
}

extension GraphClient: ReplySender {}
