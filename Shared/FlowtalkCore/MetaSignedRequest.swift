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
        guard let signed = formFields(form).first(where: { $0.name == "signed_request" })?.value else { throw .missing }
        return try userID(signedRequest: signed, verify: verify)
    }

    /// The `user_id` of one `signed_request` value.
    package static func userID(signedRequest signed: String, verify: (_ mac: [UInt8], _ signedBytes: [UInt8]) -> Bool) throws(SignedRequestError) -> String {
        let parts = signed.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let mac = base64URL(parts[0]), let payload = base64URL(parts[1]) else { throw .malformed }
        guard verify(mac, Array(parts[1].utf8)) else { throw .invalidSignature }
        guard let document = try? JSONValue.parse(payload), document["algorithm"]?.string?.uppercased() == "HMAC-SHA256",
            let userID = document["user_id"]?.integerText ?? document["user_id"]?.string, !userID.isEmpty
        else { throw .notUnderstood }
        return userID
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
