import FlowtalkCore
import InstagramGraph
import NIOCore

/// Sends a reply's messages to a customer and returns Instagram's message ids, one per message; throws `GraphError`
/// (or `GraphClient.PartialSend` when only some went out). The Graph client in production; a fake in
/// DispatchServiceTests.
protocol ReplySender: Sendable {
    func sendText(from instagramUserID: String, to recipient: String, text: String, token: Secret<String>) async throws -> [String]
    /// `texts` in order (greetings, then the answer), the last carrying `options` (quick replies or buttons).
    func send(from instagramUserID: String, to recipient: String, texts: [String], options: MessageOptions?, token: Secret<String>) async throws -> [String]
    /// The customer's username for `{username}`, or nil when it cannot be had.
    func customerUsername(_ igsid: String, token: Secret<String>, timeout: TimeAmount) async -> String?
}

extension ReplySender {
    func customerUsername(_ igsid: String, token: Secret<String>, timeout: TimeAmount) async -> String? { nil }

    /// Each text with `sendText` (options dropped): enough for a fake that records texts.
    func send(from instagramUserID: String, to recipient: String, texts: [String], options: MessageOptions?, token: Secret<String>) async throws -> [String] {
        var ids: [String] = []
        for text in texts where !text.isEmpty {
            do {
                ids += try await sendText(from: instagramUserID, to: recipient, text: text, token: token)
            } catch let error as GraphError where !ids.isEmpty {
                throw GraphClient.PartialSend(sent: ids, error: error)
            }
        }
        return ids
    }
}

extension GraphClient: ReplySender {}
