import Crypto
import Foundation

extension MetaSignedRequest {
    /// The `user_id` of a form's `signed_request`, its MAC checked (constant time) with the app secret.
    package static func userID(form: String, appSecret: Secret<String>) throws(SignedRequestError) -> String {
        let key = SymmetricKey(data: Array(appSecret.value.utf8))
        return try userID(form: form) { mac, signed in HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: signed, using: key) }
    }

    /// A fresh callback whose MAC (checked in constant time) is made with any of `secrets`: Meta's documentation does
    /// not say whether the Instagram app's secret or the Meta app's signs these, so both are tried, as for webhooks.
    package static func verifiedCallback(form: String, secrets: [Secret<String>], now: Date = Date()) throws(SignedRequestError) -> SignedCallback {
        let keys = secrets.map { SymmetricKey(data: Array($0.value.utf8)) }
        let callback = try callback(form: form) { mac, signed in
            keys.contains { HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: signed, using: $0) }
        }
        return try requireFresh(callback, now: now)
    }

    /// A `signed_request` value for `payload` as Meta builds it (the sandbox and tests sign with this).
    package static func sign(payload: String, secret: String) -> String {
        let body = base64URLEncode(Array(payload.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Array(body.utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return base64URLEncode(mac) + "." + body
    }
}
