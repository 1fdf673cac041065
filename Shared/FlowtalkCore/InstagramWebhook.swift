import Foundation

/// Why a webhook body was refused as a whole.
package enum WebhookPayloadError: Error, Equatable, CustomStringConvertible {
    case notJSON
    case unknownObject
    case tooManyEvents(Int)

    package var description: String {
        switch self {
        case .notJSON: "body is not a webhook JSON object"
        case .unknownObject: "object is not \"instagram\""
        case .tooManyEvents(let limit): "more than \(limit) events in one delivery"
        }
    }
}

/// The events of one delivery that dispatch must act on, and counts of what was skipped and why.
package struct ParsedWebhook: Sendable, Equatable {
    package var events: [InboundEvent] = []
    /// Reason (`read`, `reaction`, `edit`, `referral`, `standby`, `changes`, `test_payload`, `unknown`, `malformed_item`, `invalid_id`) → count.
    package var skipped: [String: Int] = [:]

    mutating func skip(_ reason: String, count: Int = 1) { skipped[reason, default: 0] += count }
}

/// Parses Instagram webhook deliveries (reference §2): every `entry[]`, every `messaging[]` item.
package enum InstagramWebhook {
    /// The most items one delivery may carry; Meta batches at most 1,000.
    package static let maximumItems = 5_000
    /// The longest id accepted; real `mid`s are about 200 characters.
    package static let maximumIDLength = 512

    /// Parses a delivery body. A malformed item is skipped and counted; a malformed envelope throws.
    package static func parse(_ body: some DataProtocol, receivedAtMs: Int64) throws -> ParsedWebhook {
        let data = Data(body)
        let envelopes: [Envelope]
        let decoder = JSONDecoder()
        do {
            // Some Meta samples wrap the body in an array; real deliveries are one object.
            if data.first(where: { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }) == UInt8(ascii: "[") {
                envelopes = try decoder.decode([Envelope].self, from: data)
            } else {
                envelopes = [try decoder.decode(Envelope.self, from: data)]
            }
        } catch {
            throw WebhookPayloadError.notJSON
        }
        guard !envelopes.isEmpty, envelopes.allSatisfy({ $0.object == "instagram" }) else { throw WebhookPayloadError.unknownObject }
        let itemCount = envelopes.reduce(0) { $0 + $1.entry.reduce(0) { $0 + ($1.messaging?.count ?? 0) + ($1.standby?.count ?? 0) + ($1.changes ?? 0) } }
        guard itemCount <= maximumItems else { throw WebhookPayloadError.tooManyEvents(maximumItems) }

        var result = ParsedWebhook()
        for envelope in envelopes {
            for entry in envelope.entry {
                if let standby = entry.standby, !standby.isEmpty { result.skip("standby", count: standby.count) }
                if let changes = entry.changes, changes > 0 { result.skip("changes", count: changes) }
                guard let items = entry.messaging, !items.isEmpty else { continue }
                guard let accountID = entry.id.flatMap(validID) else {
                    result.skip("invalid_id", count: items.count)
                    continue
                }
                // The App Dashboard's "Test" button sends fake ids (reference §2.7).
                if accountID == "0" {
                    result.skip("test_payload", count: items.count)
                    continue
                }
                for item in items {
                    classify(item, accountID: accountID, receivedAtMs: receivedAtMs, into: &result)
                }
            }
        }
        return result
    }

    private static func classify(_ lenient: LenientItem, accountID: String, receivedAtMs: Int64, into result: inout ParsedWebhook) {
        guard let item = lenient.item else { return result.skip("malformed_item") }
        let timestampMs = item.timestamp?.milliseconds ?? receivedAtMs
        let sender = item.sender?.id?.value
        let recipient = item.recipient?.id?.value

        if let message = item.message {
            guard let mid = validID(message.mid) else { return result.skip("invalid_id") }
            let isEcho = message.is_echo == true
            let kind: InboundEvent.Kind = message.is_deleted == true ? .deleted : (isEcho ? .echo : .message)
            let customer = isEcho ? recipient : sender
            guard let customerID = validID(customer) else { return result.skip("invalid_id") }
            var event = InboundEvent(kind: kind, accountID: accountID, customerID: customerID, mid: mid, timestampMs: timestampMs, receivedAtMs: receivedAtMs)
            if kind != .deleted {
                event.text = message.text
                let types = message.attachments?.compactMap(\.type) ?? []
                event.attachmentTypes = types.isEmpty ? nil : types
                event.quickReplyPayload = message.quick_reply?.payload
                event.replyToMID = message.reply_to?.mid
                event.isSelf = message.is_self
                event.isUnsupported = message.is_unsupported
            }
            result.events.append(event)
        } else if let postback = item.postback {
            guard let customerID = validID(sender) else { return result.skip("invalid_id") }
            let mid: String?
            if let raw = postback.mid {
                guard let valid = validID(raw) else { return result.skip("invalid_id") }
                mid = valid
            } else {
                mid = nil
            }
            var event = InboundEvent(kind: .postback, accountID: accountID, customerID: customerID, mid: mid, timestampMs: timestampMs, receivedAtMs: receivedAtMs)
            event.postbackPayload = postback.payload
            event.postbackTitle = postback.title
            result.events.append(event)
        } else if let edit = item.message_edit {
            guard let mid = validID(edit.mid) else { return result.skip("invalid_id") }
            // A real edit (num_edit > 0) must not trigger a second reply; only the num_edit == 0 quirk can be a new message.
            guard (edit.num_edit?.milliseconds ?? 0) == 0 else { return result.skip("edit") }
            let customer = sender.flatMap(validID)
            result.events.append(InboundEvent(kind: .edit, accountID: accountID, customerID: customer, mid: mid, timestampMs: timestampMs, receivedAtMs: receivedAtMs))
        } else if item.reaction {
            result.skip("reaction")
        } else if item.read {
            result.skip("read")
        } else if item.referral {
            result.skip("referral")
        } else {
            result.skip("unknown")
        }
    }

    /// An id we accept: non-empty, bounded, no control characters or spaces.
    package static func validID(_ raw: String?) -> String? {
        guard let raw, !raw.isEmpty, raw.utf8.count <= maximumIDLength else { return nil }
        guard raw.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F }) else { return nil }
        return raw
    }
}

// MARK: - Wire shapes

/// An id Meta sends as a string or as a JSON integer (possibly above 2^53); never read through Double.
package struct FlexibleID: Decodable, Sendable, Equatable {
    package let value: String

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            value = text
        } else if let number = try? container.decode(Int64.self) {
            value = String(number)
        } else if let number = try? container.decode(UInt64.self) {
            value = String(number)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "id is neither a string nor an integer")
        }
    }
}

/// A number Meta sends as an integer or a numeric string; timestamps in seconds are scaled to milliseconds.
struct FlexibleInt: Decodable, Sendable {
    let raw: Int64

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int64.self) {
            raw = number
        } else if let text = try? container.decode(String.self), let number = Int64(text) {
            raw = number
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an integer")
        }
    }

    /// Epoch milliseconds: values below 10^11 are taken as seconds (dashboard test payloads use seconds).
    var milliseconds: Int64 { raw < 100_000_000_000 ? raw * 1000 : raw }
}

private struct Envelope: Decodable {
    let object: String
    let entry: [Entry]
}

private struct Entry: Decodable {
    let id: String?
    let messaging: [LenientItem]?
    let standby: [LenientItem]?
    let changes: Int?

    enum CodingKeys: String, CodingKey { case id, messaging, standby, changes }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = (try? c.decodeIfPresent(FlexibleID.self, forKey: .id))?.value
        messaging = try c.decodeIfPresent([LenientItem].self, forKey: .messaging)
        standby = try c.decodeIfPresent([LenientItem].self, forKey: .standby)
        if c.contains(.changes) {
            var list = try c.nestedUnkeyedContainer(forKey: .changes)
            changes = list.count ?? 0
            _ = try? list.decodeNil()
        } else {
            changes = nil
        }
    }
}

/// One `messaging[]` item; a malformed one decodes to `item == nil` instead of failing the delivery.
private struct LenientItem: Decodable {
    let item: Item?
    init(from decoder: any Decoder) throws { item = try? Item(from: decoder) }
}

private struct Party: Decodable { let id: FlexibleID? }

private struct Item: Decodable {
    let sender: Party?
    let recipient: Party?
    let timestamp: FlexibleInt?
    let message: Message?
    let postback: Postback?
    let message_edit: Edit?
    let reaction: Bool
    let read: Bool
    let referral: Bool

    enum CodingKeys: String, CodingKey { case sender, recipient, timestamp, message, postback, message_edit, reaction, read, referral }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sender = try c.decodeIfPresent(Party.self, forKey: .sender)
        recipient = try c.decodeIfPresent(Party.self, forKey: .recipient)
        timestamp = try c.decodeIfPresent(FlexibleInt.self, forKey: .timestamp)
        message = try c.decodeIfPresent(Message.self, forKey: .message)
        postback = try c.decodeIfPresent(Postback.self, forKey: .postback)
        message_edit = try c.decodeIfPresent(Edit.self, forKey: .message_edit)
        reaction = c.contains(.reaction)
        read = c.contains(.read)
        referral = c.contains(.referral)
    }
}

private struct Message: Decodable {
    struct Attachment: Decodable { let type: String? }
    struct QuickReply: Decodable { let payload: String? }
    struct ReplyTo: Decodable { let mid: String? }
    let mid: String?
    let text: String?
    let attachments: [Attachment]?
    let is_echo: Bool?
    let is_self: Bool?
    let is_deleted: Bool?
    let is_unsupported: Bool?
    let quick_reply: QuickReply?
    let reply_to: ReplyTo?
}

private struct Postback: Decodable {
    let mid: String?
    let title: String?
    let payload: String?
}

private struct Edit: Decodable {
    let mid: String?
    let text: String?
    let num_edit: FlexibleInt?
}
