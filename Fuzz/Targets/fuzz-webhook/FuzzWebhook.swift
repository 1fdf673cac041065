// The webhook parser and event classifier (InstagramWebhook.parse, InboundEvent) on arbitrary delivery bodies — what
// ingest runs on every signed POST.
//
// Properties, beyond "no trap": a refused body is refused with a WebhookPayloadError; an accepted one accounts for
// every item exactly once (an event or a counted skip); every event has valid ids, a time at or after 1970, the
// receipt time given, kind-consistent fields, and re-encodes (jsonBytes) to a document our strict parser accepts and
// JSONDecoder decodes to the same event; parsing is deterministic.
import FlowtalkCore
import Foundation
import FuzzCheck

let receivedAtMs: Int64 = 1_762_022_400_000

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = bytes(data, size)
    let parsed: ParsedWebhook
    do {
        parsed = try InstagramWebhook.parse(body, receivedAtMs: receivedAtMs)
    } catch {
        check(error is WebhookPayloadError, "unexpected error type \(error)")
        return 0
    }
    check((try? InstagramWebhook.parse(body, receivedAtMs: receivedAtMs)) == parsed, "parsing is not deterministic")

    let skipped = parsed.skipped.values.reduce(0, +)
    check(parsed.skipped.values.allSatisfy { $0 > 0 }, "a skip count of zero or less: \(parsed.skipped)")
    check(parsed.events.count + skipped == itemCount(body), "items not accounted for once: \(parsed.events.count) events, \(parsed.skipped)")

    for event in parsed.events {
        check(InstagramWebhook.validID(event.accountID) == event.accountID && event.accountID != "0", "account id \(show(event.accountID))")
        if let customer = event.customerID { check(InstagramWebhook.validID(customer) == customer, "customer id \(show(customer))") }
        if let mid = event.mid { check(InstagramWebhook.validID(mid) == mid, "mid \(show(mid))") }
        check(event.timestampMs >= 0, "timestamp before 1970: \(event.timestampMs)")
        check(event.receivedAtMs == receivedAtMs, "receipt time changed")
        switch event.kind {
        case .message, .echo:
            check(event.mid != nil && event.customerID != nil, "a message without mid or customer")
        case .deleted:
            check(event.mid != nil && event.text == nil && event.attachmentTypes == nil, "a deletion carries content")
        case .edit:
            check(event.mid != nil, "an edit without mid")
        case .postback:
            check(event.customerID != nil, "a postback without customer")
        }
        if let types = event.attachmentTypes { check(!types.isEmpty, "empty attachment list kept") }
        // The queue keys are built from these fields in FlowtalkContracts (which needs NIO, so it is not linked here); what
        // they rely on is checked: ids the parser accepts are the ids it validates, and free text holds no U+0000.
        check(InstagramWebhook.validID(event.accountID) != nil, "account id \(event.accountID)")
        check(event.customerID.map { InstagramWebhook.validID($0) != nil } ?? true, "customer id")
        check(!(event.text ?? "").unicodeScalars.contains("\u{0}"), "NUL in text")

        let json = event.jsonBytes()
        check((try? JSONValue.parse(json)) != nil, "jsonBytes is not strict JSON: \(String(decoding: json, as: UTF8.self))")
        let decoded = try? JSONDecoder().decode(InboundEvent.self, from: Data(json))
        check(decoded == event, "jsonBytes does not decode to the same event: \(String(decoding: json, as: UTF8.self))")
    }
    return 0
}

/// Items in an accepted delivery, counted independently of the parser: `messaging`, `standby` and `changes`
/// elements of every entry of every envelope.
func itemCount(_ body: UnsafeBufferPointer<UInt8>) -> Int {
    guard let document = try? JSONValue.parse(body) else { return -1 }
    var count = 0
    for envelope in document.array ?? [document] {
        for entry in envelope["entry"]?.array ?? [] {
            for key in ["messaging", "standby", "changes"] { count += entry[key]?.array?.count ?? 0 }
        }
    }
    return count
}
