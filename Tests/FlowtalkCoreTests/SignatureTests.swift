import Crypto
import FlowtalkCore
import FlowtalkTesting
import Foundation
import Testing

@Suite struct SignatureTests {
    @Test func rfc4231TestCase2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
        let header = WebhookSignatureVerifier.sign(body: Array("what do ya want for nothing?".utf8), secret: "Jefe")
        #expect(header == "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func rfc4231TestCase1() {
        // RFC 4231 §4.2: key 0x0b × 20, data "Hi There" (the key is not text, so use HMAC directly with our hex encoder).
        let mac = HMAC<SHA256>.authenticationCode(for: Array("Hi There".utf8), using: SymmetricKey(data: [UInt8](repeating: 0x0b, count: 20)))
        #expect(Hex.encode(mac) == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    }

    @Test func githubPublishedVector() {
        let verifier = WebhookSignatureVerifier(primarySecret: Secret("It's a Secret to Everybody"))
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        #expect(verifier.verify(headerValues: [header], body: Array("Hello, World!".utf8)) == .primary)
    }

    @Test func realPayloadRoundTripAndOneChangedByte() throws {
        let body = Array(Fixtures.f1.utf8)
        let verifier = WebhookSignatureVerifier(primarySecret: Secret("test_secret"))
        let header = WebhookSignatureVerifier.sign(body: body, secret: "test_secret")
        #expect(verifier.verify(headerValues: [header], body: body) == .primary)
        for index in [0, body.count / 2, body.count - 1] {
            var changed = body
            changed[index] ^= 0x01
            #expect(verifier.verify(headerValues: [header], body: changed) == nil)
        }
    }

    @Test func oneVerifierChecksManyDeliveriesIndependently() {
        // The keyed HMAC state is copied per delivery; a check must never leave anything behind for the next one.
        let verifier = WebhookSignatureVerifier(primarySecret: Secret("test_secret"))
        let good = Array(Fixtures.f1.utf8)
        let other = Array(Fixtures.f3.utf8)
        for _ in 0..<3 {
            #expect(verifier.verify(headerValues: [WebhookSignatureVerifier.sign(body: good, secret: "test_secret")], body: good) == .primary)
            #expect(verifier.verify(headerValues: [WebhookSignatureVerifier.sign(body: good, secret: "test_secret")], body: other) == nil)
            #expect(verifier.verify(headerValues: [WebhookSignatureVerifier.sign(body: other, secret: "test_secret")], body: other) == .primary)
        }
    }

    @Test func eitherConfiguredSecretIsAccepted() {
        let body = Array(Fixtures.f1.utf8)
        let verifier = WebhookSignatureVerifier(primarySecret: Secret("meta"), secondarySecret: Secret("instagram"))
        #expect(verifier.verify(headerValues: [WebhookSignatureVerifier.sign(body: body, secret: "meta")], body: body) == .primary)
        #expect(verifier.verify(headerValues: [WebhookSignatureVerifier.sign(body: body, secret: "instagram")], body: body) == .secondary)
        #expect(verifier.verify(headerValues: [WebhookSignatureVerifier.sign(body: body, secret: "other app")], body: body) == nil)
    }

    @Test(arguments: [
        "",
        "sha256=",
        "sha1=0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33",
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec384",  // 63 digits
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec38433",  // 65 digits
        "sha256=zzdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        " sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        "SHA256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ])
    func malformedHeadersAreRefused(header: String) {
        let verifier = WebhookSignatureVerifier(primarySecret: Secret("Jefe"))
        #expect(verifier.verify(headerValues: [header], body: Array("what do ya want for nothing?".utf8)) == nil)
    }

    @Test func upperCaseHexIsAcceptedAsTheSameDigest() {
        // Decided once: hex digits are case-insensitive (the bytes are compared, not the text).
        let verifier = WebhookSignatureVerifier(primarySecret: Secret("Jefe"))
        let header = "sha256=" + "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843".uppercased()
        #expect(verifier.verify(headerValues: [header], body: Array("what do ya want for nothing?".utf8)) == .primary)
    }

    @Test func twoHeadersAreAmbiguousAndRefused() {
        let body = Array("what do ya want for nothing?".utf8)
        let verifier = WebhookSignatureVerifier(primarySecret: Secret("Jefe"))
        let good = WebhookSignatureVerifier.sign(body: body, secret: "Jefe")
        #expect(verifier.verify(headerValues: [good, good], body: body) == nil)
        #expect(verifier.verify(headerValues: [good, "sha256=" + String(repeating: "0", count: 64)], body: body) == nil)
        #expect(verifier.verify(headerValues: [], body: body) == nil)
    }

    @Test func hexRoundTripAndRejects() {
        #expect(Hex.decode(Hex.encode([0, 1, 0xab, 0xff])) == [0, 1, 0xab, 0xff])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("0g") == nil)
    }
}
