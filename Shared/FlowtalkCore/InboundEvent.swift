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
        /// The customer reacted to a message (`replyToMID`), or took the reaction back (`reaction` = `unreact`).
        case reaction
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
    /// `story_reply` (a DM replying to the business's story) or `story_mention` (the customer's story mentions the
    /// business); nil for a plain DM. The story's media and its CDN address are never kept, not even here.
    package var storyTrigger: String?
    /// For a reaction: `react` or `unreact`.
    package var reaction: String?
    /// The W3C trace context of the webhook request that queued it (`TraceContext`), when tracing is on.
    package var traceParent: String?
    package var traceState: String?

    /// An event; optional details are set afterwards.
    package init(kind: Kind, accountID: String, customerID: String?, mid: String?, timestampMs: Int64, receivedAtMs: Int64) {
        self.kind = kind
        self.accountID = accountID
        self.customerID = customerID
        self.mid = mid
        self.timestampMs = timestampMs
        self.receivedAtMs = receivedAtMs
    }

}

extension InboundEvent {
    /// The kind the activity log and `handled_events` record: `story_reply` or `story_mention` for a story event, else
    /// the event's kind. Every writer uses this one, so a redelivery or the stale-job cleanup finds the same record.
    package var logKind: String { storyTrigger ?? kind.rawValue }

    /// The event as JSON, the same document `JSONEncoder` would produce (decodable by `JSONDecoder`), written by hand:
    /// ingest encodes one per event on its hot path, and the generic encoder cost more than the rest of the work.
    package func jsonBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + (text?.utf8.count ?? 0))
        out.append(UInt8(ascii: "{"))
        var first = true
        func key(_ name: StaticString) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        }
        func string(_ name: StaticString, _ value: String?) {
            guard let value else { return }
            key(name)
            JSONText.appendString(value, to: &out)
        }
        func bool(_ name: StaticString, _ value: Bool?) {
            guard let value else { return }
            key(name)
            out.append(contentsOf: (value ? "true" : "false").utf8)
        }
        string("kind", kind.rawValue)
        string("accountID", accountID)
        string("customerID", customerID)
        string("mid", mid)
        key("timestampMs")
        out.append(contentsOf: String(timestampMs).utf8)
        key("receivedAtMs")
        out.append(contentsOf: String(receivedAtMs).utf8)
        string("text", text)
        if let attachmentTypes {
            key("attachmentTypes")
            out.append(UInt8(ascii: "["))
            for (index, type) in attachmentTypes.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONText.appendString(type, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        }
        string("quickReplyPayload", quickReplyPayload)
        string("replyToMID", replyToMID)
        string("postbackPayload", postbackPayload)
        string("postbackTitle", postbackTitle)
        bool("isSelf", isSelf)
        bool("isUnsupported", isUnsupported)
        string("storyTrigger", storyTrigger)
        string("reaction", reaction)
        string("traceParent", traceParent)
        string("traceState", traceState)
        out.append(UInt8(ascii: "}"))
        return out
    }
}

/// Writing JSON strings.
package enum JSONText {
    private static let hex = Array("0123456789abcdef".utf8)

    /// Appends `value` as a quoted JSON string: quotes, backslashes and control characters escaped, the rest as UTF-8.
    package static func appendString(_ value: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
