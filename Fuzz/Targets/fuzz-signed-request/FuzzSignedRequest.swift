// Meta's `signed_request` parser (MetaSignedRequest), as flowtalk-auth runs it on the deauthorize and data-deletion
// callbacks. The MAC check is swapped for a recorder, so the fuzzer reaches the payload parsing behind it.
//
// Two modes, by the first byte:
// - even: the input is the whole form body. Properties: the MAC check is asked only about well-formed values, and
//   about exactly the payload's base64url text; a refused MAC is always `invalidSignature`; a user id is never empty.
// - odd: the rest of the input is the payload JSON, signed as Meta would (base64url, a fixed 32-byte MAC) and percent-
//   encoded into a form. Properties: base64url round-trips, the check sees the exact MAC and text, and the verdict
//   equals an independent reading of the payload (`algorithm` HMAC-SHA256, a non-empty string or integer `user_id`).
import FlowtalkCore
import Foundation
import FuzzCheck

let fakeMAC = [UInt8](0..<32)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let input = bytes(data, size)
    if input[0] & 1 == 0 {
        fuzzForm(String(decoding: input.dropFirst(), as: UTF8.self))
    } else {
        fuzzPayload(Array(input.dropFirst()))
    }
    return 0
}

func fuzzForm(_ form: String) {
    var asked: (mac: [UInt8], signed: [UInt8])?
    let accept = form.utf8.count % 3 != 0
    let result = Result { () throws(SignedRequestError) in
        try MetaSignedRequest.userID(form: form) { mac, signed in
            asked = (mac, signed)
            return accept
        }
    }
    switch result {
    case .success(let userID):
        check(!userID.isEmpty && accept && asked != nil, "accepted without a passing MAC check, or an empty user id")
    case .failure(.missing), .failure(.malformed):
        check(asked == nil, "the MAC check was asked about a malformed value")
    case .failure(.invalidSignature):
        check(!accept && asked != nil, "invalidSignature although the MAC check passed")
    case .failure(.notUnderstood):
        check(accept && asked != nil, "payload read although the MAC check failed")
    }
    if let asked {
        // The MAC covers the payload's text exactly as sent, so it must be the second dot-separated part of the value.
        let value = MetaSignedRequest.formFields(form).first { $0.name == "signed_request" }?.value ?? ""
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        check(parts.count == 2 && Array(parts[1].utf8) == asked.signed, "the MAC check saw other bytes than the payload text")
        check(MetaSignedRequest.base64URL(parts[0]) == asked.mac, "the MAC check saw another MAC")
    }
}

func fuzzPayload(_ payload: [UInt8]) {
    let body = MetaSignedRequest.base64URLEncode(payload)
    check(MetaSignedRequest.base64URL(Substring(body)) == payload, "base64url does not round-trip")
    let signed = MetaSignedRequest.base64URLEncode(fakeMAC) + "." + body
    let form = "foo=bar&signed_request=" + (signed.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
    let result = Result { () throws(SignedRequestError) in
        try MetaSignedRequest.userID(form: form) { mac, text in
            check(mac == fakeMAC && text == Array(body.utf8), "the MAC check saw other bytes")
            return true
        }
    }
    let expected = expectedUserID(payload)
    switch result {
    case .success(let userID): check(userID == expected, "user id \(show(userID)), expected \(show(expected))")
    case .failure(let error): check(error == .notUnderstood && expected == nil, "\(error), expected \(show(expected))")
    }
}

/// The user id a correct reading of the payload gives, written without the parser's helpers.
func expectedUserID(_ payload: [UInt8]) -> String? {
    guard let document = try? JSONValue.parse(payload), case .object(let members) = document else { return nil }
    guard case .string(let algorithm)? = members.first(where: { $0.key == "algorithm" })?.value,
        algorithm.uppercased() == "HMAC-SHA256"
    else { return nil }
    switch members.first(where: { $0.key == "user_id" })?.value {
    case .string(let id)?: return id.isEmpty ? nil : id
    case .number(let text)?:
        let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        return !digits.isEmpty && digits.allSatisfy({ ("0"..."9").contains($0) }) ? text : nil
    default: return nil
    }
}
