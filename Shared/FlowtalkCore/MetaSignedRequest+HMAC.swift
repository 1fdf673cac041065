import Crypto

extension MetaSignedRequest {
    /// The `user_id` of a form's `signed_request`, its MAC checked (constant time) with the app secret.
    package static func userID(form: String, appSecret: Secret<String>) throws(SignedRequestError) -> String {
        let key = SymmetricKey(data: Array(appSecret.value.utf8))
        return try userID(form: form) { mac, signed in HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: signed, using: key) }
    }

    /// A `signed_request` value for `payload` as Meta builds it (the sandbox and tests sign with this).
    package static func sign(payload: String, secret: String) -> String {
        let body = base64URLEncode(Array(payload.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Array(body.utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return base64URLEncode(mac) + "." + body
    }
}
