/// One Instagram messaging event that dispatch acts on, as ingest queues it. Ids are opaque strings.
package struct InboundEvent: Codable, Sendable, Equatable {
    /// What happened.
    package enum Kind: String, Codable, Sendable, CaseIterable {
        /// A customer's message (text, attachments, quick-reply tap, story reply).
        case message
        /// A message the business sent: our own reply or a person typing in the Instagram app.
        case echo
        /// A tap on an Ice Breaker question or a button.
        case postback
        /// `message_edit` with `num_edit == 0`: sometimes the only sign of a new message (reference §2.4).
        case edit
        /// The customer unsent a message.
        case deleted
    }

    package var kind: Kind
    /// The business's Instagram account (the webhook `entry.id`).
    package var accountID: String
    /// The customer's Instagram-scoped id: `sender.id`, or `recipient.id` for echoes. Nil when Meta left it out.
    package var customerID: String?
    /// The message id; nil only for old-style postbacks.
    package var mid: String?
    /// When the event happened, epoch milliseconds.
    package var timestampMs: Int64
    /// When ingest accepted the delivery, epoch milliseconds.
    package var receivedAtMs: Int64
    package var text: String?
    package var attachmentTypes: [String]?
    package var quickReplyPayload: String?
    package var replyToMID: String?
    package var postbackPayload: String?
    package var postbackTitle: String?
    package var isSelf: Bool?
    package var isUnsupported: Bool?

    /// An event; optional details are set afterwards.
    package init(kind: Kind, accountID: String, customerID: String?, mid: String?, timestampMs: Int64, receivedAtMs: Int64) {
        self.kind = kind
        self.accountID = accountID
        self.customerID = customerID
        self.mid = mid
        self.timestampMs = timestampMs
        self.receivedAtMs = receivedAtMs
    }

    /// The queue's dedupe key: Meta redelivers, and the same event must yield one job (reference §2.6: `mid` + kind).
    package var dedupeKey: String {
        if let mid { return "ig:\(kind.rawValue):\(mid)" }
        return "ig:\(kind.rawValue):\(accountID):\(customerID ?? "-"):\(timestampMs):\(postbackPayload ?? "")"
    }

    /// The conversation, so one customer's events are handled one at a time and in order.
    package var conversationKey: String? {
        customerID.map { "conv:\(accountID):\($0)" }
    }
}
