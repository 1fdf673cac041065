import Foundation

/// Why a `signed_request` was refused: `invalidSignature` is a 401, the others are 400.
package enum SignedRequestError: Error, Equatable, Sendable {
    /// The form has no `signed_request` field.
    case missing
    /// Not two base64url parts joined by a dot.
    case malformed
    /// The MAC does not match the payload.
    case invalidSignature
    /// Signed, but not a JSON object with `algorithm` `HMAC-SHA256` and a `user_id`.
    case notUnderstood
    /// Signed and understood, but its `issued_at` is missing, more than a day old or in the future: a captured callback
    /// must not replay for ever.
    case stale
}

/// A verified callback: whose data, and when Meta issued it (nil when the payload has no `issued_at`).
package struct SignedCallback: Sendable, Equatable {
    package let userID: String
    package let issuedAt: Date?

    package init(userID: String, issuedAt: Date?) {
        self.userID = userID
        self.issuedAt = issuedAt
    }
}

/// Meta's `signed_request` (the deauthorize and data-deletion callbacks): a form field holding
/// `base64url(HMAC-SHA256(payload, app secret)) "." base64url(JSON)`, where the MAC covers the payload's base64url text.
///
/// The parsing here is pure: the MAC check is passed in (`MetaSignedRequest+HMAC.swift` checks it with the app secret),
/// so the parser can be fuzzed without a cryptography library.
package enum MetaSignedRequest {
    /// The `user_id` of the `signed_request` field of an `application/x-www-form-urlencoded` body.
    /// `verify(mac, signedBytes)` says whether `mac` (decoded) authenticates `signedBytes` (the payload's base64url text).
    package static func userID(form: String, verify: (_ mac: [UInt8], _ signedBytes: [UInt8]) -> Bool) throws(SignedRequestError) -> String {
        try callback(form: form, verify: verify).userID
    }

    /// The `user_id` and `issued_at` of the `signed_request` field of a form body (`issued_at` is not judged here).
    package static func callback(form: String, verify: (_ mac: [UInt8], _ signedBytes: [UInt8]) -> Bool) throws(SignedRequestError) -> SignedCallback {
        guard let signed = formFields(form).first(where: { $0.name == "signed_request" })?.value else { throw .missing }
        return try callback(signedRequest: signed, verify: verify)
    }

    /// The `user_id` of one `signed_request` value.
    package static func userID(signedRequest signed: String, verify: (_ mac: [UInt8], _ signedBytes: [UInt8]) -> Bool) throws(SignedRequestError) -> String {
        try callback(signedRequest: signed, verify: verify).userID
    }

    /// The `user_id` and `issued_at` (seconds since 1970, a JSON integer) of one `signed_request` value.
    package static func callback(signedRequest signed: String, verify: (_ mac: [UInt8], _ signedBytes: [UInt8]) -> Bool) throws(SignedRequestError) -> SignedCallback {
        let parts = signed.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let mac = base64URL(parts[0]), let payload = base64URL(parts[1]) else { throw .malformed }
        guard verify(mac, Array(parts[1].utf8)) else { throw .invalidSignature }
        guard let document = try? JSONValue.parse(payload), document["algorithm"]?.string?.uppercased() == "HMAC-SHA256",
            let userID = document["user_id"]?.integerText ?? document["user_id"]?.string, !userID.isEmpty
        else { throw .notUnderstood }
        let issuedAt = document["issued_at"]?.integerText.flatMap { Int64($0) }.map { Date(timeIntervalSince1970: TimeInterval($0)) }
        return SignedCallback(userID: userID, issuedAt: issuedAt)
    }

    /// Refuses a callback without `issued_at`, issued more than `maxAge` ago, or more than five minutes ahead of `now`.
    package static func requireFresh(_ callback: SignedCallback, now: Date, maxAge: TimeInterval = 86_400) throws(SignedRequestError) -> SignedCallback {
        guard let issued = callback.issuedAt, now.timeIntervalSince(issued) <= maxAge, issued.timeIntervalSince(now) <= 300 else { throw .stale }
        return callback
    }

    /// The `name=value` pairs of a form body, `+` as space and percent-escapes decoded (an invalid escape gives "").
    package static func formFields(_ form: String) -> [(name: String, value: String)] {
        form.split(separator: "&").compactMap { pair -> (name: String, value: String)? in
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            return parts.count == 2 ? (parts[0], parts[1]) : nil
        }
    }

    /// Decodes unpadded (or padded) base64url; nil for anything else.
    package static func base64URL(_ text: Substring) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map(Array.init)
    }

    /// base64url without padding, as Meta writes it.
    package static func base64URLEncode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
