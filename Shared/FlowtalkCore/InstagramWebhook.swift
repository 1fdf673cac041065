
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
    package static func parse(_ body: some Collection<UInt8>, receivedAtMs: Int64) throws -> ParsedWebhook {
        guard let document = try? JSONValue.parse(body) else { throw WebhookPayloadError.notJSON }
        // Some Meta samples wrap the body in an array; real deliveries are one object.
        let envelopes = document.array ?? [document]
        var entries: [JSONValue] = []
        var objects: [String] = []
        for envelope in envelopes {
            guard let object = envelope["object"]?.string, let list = envelope["entry"]?.array, list.allSatisfy(\.isObject) else {
                throw WebhookPayloadError.notJSON
            }
            objects.append(object)
            entries.append(contentsOf: list)
        }
        guard !envelopes.isEmpty, objects.allSatisfy({ $0 == "instagram" }) else { throw WebhookPayloadError.unknownObject }

        var parsedEntries: [(id: String?, messaging: [JSONValue], standby: Int, changes: Int)] = []
        var itemCount = 0
        for entry in entries {
            func list(_ key: String) throws -> [JSONValue] {
                switch entry[key] {
                case nil, .null?: return []
                case .array(let items)?: return items
                default: throw WebhookPayloadError.notJSON
                }
            }
            let messaging = try list("messaging")
            let standby = try list("standby").count
            let changes = try list("changes").count
            itemCount += messaging.count + standby + changes
            parsedEntries.append((entry["id"]?.integerText ?? entry["id"]?.string, messaging, standby, changes))
        }
        guard itemCount <= maximumItems else { throw WebhookPayloadError.tooManyEvents(maximumItems) }

        var result = ParsedWebhook()
        for entry in parsedEntries {
            if entry.standby > 0 { result.skip("standby", count: entry.standby) }
            if entry.changes > 0 { result.skip("changes", count: entry.changes) }
            guard !entry.messaging.isEmpty else { continue }
            guard let accountID = validID(entry.id) else {
                result.skip("invalid_id", count: entry.messaging.count)
                continue
            }
            // The App Dashboard's "Test" button sends fake ids (reference §2.7).
            if accountID == "0" {
                result.skip("test_payload", count: entry.messaging.count)
                continue
            }
            for item in entry.messaging {
                classify(LenientItem(item), accountID: accountID, receivedAtMs: receivedAtMs, into: &result)
            }
        }
        return result
    }

    private static func classify(_ lenient: LenientItem, accountID: String, receivedAtMs: Int64, into result: inout ParsedWebhook) {
        guard let item = lenient.item else { return result.skip("malformed_item") }
        let timestampMs = item.timestampMs ?? receivedAtMs
        let sender = item.sender?.id
        let recipient = item.recipient?.id

        if let message = item.message {
            guard let mid = validID(message.mid) else { return result.skip("invalid_id") }
            let isEcho = message.is_echo == true
            let kind: InboundEvent.Kind = message.is_deleted == true ? .deleted : (isEcho ? .echo : .message)
            let customer = isEcho ? recipient : sender
            guard let customerID = validID(customer) else { return result.skip("invalid_id") }
            var event = InboundEvent(kind: kind, accountID: accountID, customerID: customerID, mid: mid, timestampMs: timestampMs, receivedAtMs: receivedAtMs)
            if kind != .deleted {
                // An echo's text is what the business or the bot sent: nothing reads it, and a {username} reply holds the
                // customer's name, which is never kept (privacy policy). Only that it was sent is queued.
                event.text = isEcho ? nil : message.text
                let types = message.attachments?.compactMap(\.type) ?? []
                event.attachmentTypes = types.isEmpty ? nil : types
                event.quickReplyPayload = message.quick_reply?.payload
                event.replyToMID = message.reply_to?.mid
                if !isEcho {
                    if types.contains("story_mention") { event.storyTrigger = "story_mention" } else if message.reply_to?.story == true { event.storyTrigger = "story_reply" }
                }
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
            guard (edit.num_edit?.raw ?? 0) == 0 else { return result.skip("edit") }
            let customer = sender.flatMap(validID)
            result.events.append(InboundEvent(kind: .edit, accountID: accountID, customerID: customer, mid: mid, timestampMs: timestampMs, receivedAtMs: receivedAtMs))
        } else if item.reaction {
            // A reaction to a message (counted when the message is one of the bot's; never answered). Its own id is made
            // from the reacted message, the action and when, so redeliveries yield one job and a later reaction another.
            guard let customerID = validID(sender), let reacted = validID(item.reactionMID), let when = item.timestampMs,
                let mid = validID("reaction.\(item.reactionAction ?? "react").\(when).\(reacted)")
            else { return result.skip("reaction") }
            var event = InboundEvent(kind: .reaction, accountID: accountID, customerID: customerID, mid: mid, timestampMs: when, receivedAtMs: receivedAtMs)
            event.replyToMID = reacted
            event.reaction = item.reactionAction == "unreact" ? "unreact" : "react"
            result.events.append(event)
        } else if item.read {
            result.skip("read")
        } else if item.referral, item.referralSource == "STORY_MENTION", let customerID = validID(sender) {
            // A story mention delivered as a referral carries no message id: one is made from the account, who and when,
            // so Meta's redeliveries of it still yield one job; without a timestamp it could not be, and is skipped.
            guard let when = item.timestampMs, let mid = validID("mention.\(accountID).\(customerID).\(when)") else {
                return result.skip("referral")
            }
            var event = InboundEvent(kind: .message, accountID: accountID, customerID: customerID, mid: mid, timestampMs: when, receivedAtMs: receivedAtMs)
            event.storyTrigger = "story_mention"
            result.events.append(event)
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

/// A type mismatch inside one messaging item: the item is skipped, the delivery is not.
private struct MalformedItem: Error {}

private func optional<T>(_ value: JSONValue?, _ read: (JSONValue) -> T?) throws -> T? {
    guard let value, value != .null else { return nil }
    guard let result = read(value) else { throw MalformedItem() }
    return result
}

private func optionalString(_ value: JSONValue?) throws -> String? { try optional(value) { $0.string } }
/// Free text (a message, a payload, a title) without U+0000, which PostgreSQL's text cannot hold: refusing the delivery
/// would lose its other events, and failing the insert would block the conversation until the job died (issue 12).
private func optionalText(_ value: JSONValue?) throws -> String? { try optionalString(value).map(\.withoutNUL) }

extension String {
    /// The text without U+0000.
    package var withoutNUL: String { contains("\u{0}") ? String(String.UnicodeScalarView(unicodeScalars.filter { $0 != "\u{0}" })) : self }
}
private func optionalBool(_ value: JSONValue?) throws -> Bool? { try optional(value) { $0.bool } }
private func optionalObject(_ value: JSONValue?) throws -> JSONValue? { try optional(value) { $0.isObject ? $0 : nil } }

/// An id Meta sends as a string or as a JSON integer (possibly above 2^53); never read through Double.
private func optionalID(_ value: JSONValue?) throws -> String? {
    try optional(value) { value in
        if case .string(let text) = value { return text }
        return value.integerText
    }
}

/// A number Meta sends as an integer or a numeric string; timestamps in seconds are scaled to milliseconds.
struct FlexibleInt: Sendable {
    let raw: Int64

    /// Epoch milliseconds: values below 10^11 are taken as seconds (dashboard test payloads use seconds). Nil for a
    /// negative value: no event happened before 1970, and seconds that far below zero would not fit in milliseconds.
    var milliseconds: Int64? {
        guard raw >= 0 else { return nil }
        return raw < 100_000_000_000 ? raw * 1000 : raw
    }

    fileprivate static func read(_ value: JSONValue?) throws -> FlexibleInt? {
        try optional(value) { value in value.integerText.flatMap { Int64($0) }.map(FlexibleInt.init(raw:)) }
    }
}

/// One `messaging[]` item; a malformed one has `item == nil` instead of failing the delivery.
private struct LenientItem {
    let item: Item?
    init(_ value: JSONValue) { item = try? Item(value) }
}

private struct Party {
    let id: String?
    init?(_ value: JSONValue?) throws {
        guard let object = try optionalObject(value) else { return nil }
        id = try optionalID(object["id"])
    }
}

private struct Item {
    let sender: Party?
    let recipient: Party?
    /// `timestamp` in epoch milliseconds; an item whose timestamp is not a time (negative) is malformed.
    let timestampMs: Int64?
    let message: Message?
    let postback: Postback?
    let message_edit: Edit?
    let reaction: Bool
    /// `reaction.mid` (the message reacted to) and `reaction.action` (`react` or `unreact`).
    let reactionMID: String?
    let reactionAction: String?
    let read: Bool
    let referral: Bool
    /// `referral.source`, e.g. `STORY_MENTION`.
    let referralSource: String?

    init(_ value: JSONValue) throws {
        guard value.isObject else { throw MalformedItem() }
        sender = try Party(value["sender"])
        recipient = try Party(value["recipient"])
        timestampMs = try FlexibleInt.read(value["timestamp"]).map { timestamp in
            guard let milliseconds = timestamp.milliseconds else { throw MalformedItem() }
            return milliseconds
        }
        message = try optionalObject(value["message"]).map(Message.init)
        postback = try optionalObject(value["postback"]).map(Postback.init)
        message_edit = try optionalObject(value["message_edit"]).map(Edit.init)
        reaction = value["reaction"] != nil
        reactionMID = try value["reaction"].flatMap { $0.isObject ? try optionalText($0["mid"]) : nil }
        reactionAction = try value["reaction"].flatMap { $0.isObject ? try optionalText($0["action"]) : nil }
        read = value["read"] != nil
        referral = value["referral"] != nil
        referralSource = try value["referral"].flatMap { $0.isObject ? try optionalText($0["source"]) : nil }
    }
}

private struct Message {
    struct Attachment { let type: String? }
    struct QuickReply { let payload: String? }
    struct ReplyTo {
        let mid: String?
        /// `reply_to.story` is there: a reply to the business's story (only that is kept, never its id or URL).
        let story: Bool
    }
    let mid: String?
    let text: String?
    let attachments: [Attachment]?
    let is_echo: Bool?
    let is_self: Bool?
    let is_deleted: Bool?
    let is_unsupported: Bool?
    let quick_reply: QuickReply?
    let reply_to: ReplyTo?

    init(_ value: JSONValue) throws {
        mid = try optionalString(value["mid"])
        text = try optionalText(value["text"])
        attachments = try optional(value["attachments"]) { $0.array }.map { list in
            try list.map { element in
                guard element.isObject else { throw MalformedItem() }
                return Attachment(type: try optionalText(element["type"]))
            }
        }
        is_echo = try optionalBool(value["is_echo"])
        is_self = try optionalBool(value["is_self"])
        is_deleted = try optionalBool(value["is_deleted"])
        is_unsupported = try optionalBool(value["is_unsupported"])
        quick_reply = try optionalObject(value["quick_reply"]).map { QuickReply(payload: try optionalText($0["payload"])) }
        reply_to = try optionalObject(value["reply_to"]).map { ReplyTo(mid: try optionalString($0["mid"]), story: $0["story"]?.isObject == true) }
    }
}

private struct Postback {
    let mid: String?
    let title: String?
    let payload: String?

    init(_ value: JSONValue) throws {
        mid = try optionalString(value["mid"])
        title = try optionalText(value["title"])
        payload = try optionalText(value["payload"])
    }
}

private struct Edit {
    let mid: String?
    let text: String?
    let num_edit: FlexibleInt?

    init(_ value: JSONValue) throws {
        mid = try optionalString(value["mid"])
        text = try optionalText(value["text"])
        num_edit = try FlexibleInt.read(value["num_edit"])
    }
}
