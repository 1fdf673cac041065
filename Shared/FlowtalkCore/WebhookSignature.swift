import Crypto
import Foundation

/// Checks Meta's `X-Hub-Signature-256: sha256=<hex>` header over the raw request body.
///
/// Meta's documentation disagrees on whether Instagram-Login webhooks are signed with the Meta app secret or the
/// Instagram app secret, so a verifier holds one or two secrets and accepts a signature valid under either.
package struct WebhookSignatureVerifier: Sendable {
    /// Which configured secret produced a valid signature.
    package enum Match: String, Sendable { case primary, secondary }

    /// HMAC states already keyed (the padded key hashed once), copied for each delivery: swift-crypto's hash state is
    /// copy-on-write, so a copy never disturbs the original.
    private let keyed: [(Match, HMAC<SHA256>)]

    /// A verifier for one required secret and an optional second one.
    package init(primarySecret: Secret<String>, secondarySecret: Secret<String>? = nil) {
        var keyed = [(Match.primary, HMAC<SHA256>(key: SymmetricKey(data: Array(primarySecret.value.utf8))))]
        if let secondarySecret { keyed.append((.secondary, HMAC<SHA256>(key: SymmetricKey(data: Array(secondarySecret.value.utf8))))) }
        self.keyed = keyed
    }

    /// The secret that signed `body`, or nil when the header is missing, malformed or matches no secret.
    /// Exactly one header value is expected; pass every value the request carried.
    package func verify(headerValues: [String], body: some DataProtocol) -> Match? {
        guard headerValues.count == 1, let mac = Self.parse(headerValues[0]) else { return nil }
        for (match, state) in keyed {
            var hmac = state
            hmac.update(data: body)
            // HashedAuthenticationCode's == with bytes is swift-crypto's constant-time comparison.
            if hmac.finalize() == mac { return match }
        }
        return nil
    }

    /// The MAC bytes of a `sha256=<64 hex>` header value; nil for anything else.
    package static func parse(_ header: String) -> [UInt8]? {
        guard header.hasPrefix("sha256=") else { return nil }
        let hex = header.dropFirst(7)
        guard hex.utf8.count == 64, let bytes = Hex.decode(hex) else { return nil }
        return bytes
    }

    /// The header value Meta would send for `body` signed with `secret` (the sandbox and tests sign with this).
    package static func sign(body: some DataProtocol, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
        return "sha256=" + Hex.encode(mac)
    }
}
