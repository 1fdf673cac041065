import FlowtalkCore
import Foundation
import Testing

/// Meta's `signed_request` parser (moved from flowtalk-auth's DataRightsController so it can be fuzzed; the HTTP
/// behaviour stays covered by AuthServiceTests' DataRightsTests).
@Suite struct MetaSignedRequestTests {
    let secret = Secret("test-app-secret")

    func form(_ signed: String, extra: String = "") -> String {
        extra + "signed_request=" + (signed.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
    }

    @Test(arguments: [
        (#"{"algorithm":"HMAC-SHA256","issued_at":1762022346,"user_id":"17841400000000999"}"#, "17841400000000999"),
        (#"{"algorithm":"hmac-sha256","user_id":17841400000000111}"#, "17841400000000111"),
        (#"{"user_id":"9007199254740993","algorithm":"HMAC-SHA256"}"#, "9007199254740993"),
    ])
    func signedPayloadGivesItsUserID(payload: String, userID: String) throws {
        let signed = MetaSignedRequest.sign(payload: payload, secret: "test-app-secret")
        #expect(try MetaSignedRequest.userID(form: form(signed, extra: "foo=bar&"), appSecret: secret) == userID)
    }

    @Test func wrongSecretIsAnInvalidSignature() {
        let signed = MetaSignedRequest.sign(payload: #"{"algorithm":"HMAC-SHA256","user_id":"1"}"#, secret: "wrong")
        #expect(throws: SignedRequestError.invalidSignature) { try MetaSignedRequest.userID(form: form(signed), appSecret: secret) }
    }

    @Test(arguments: [
        ("", SignedRequestError.missing), ("foo=bar", .missing), ("signed_request", .missing),
        ("signed_request=abc", .malformed), ("signed_request=a.b.c", .malformed), ("signed_request=%%%.e30", .malformed),
        ("signed_request=QQ.!!", .malformed), ("signed_request=Q.e30", .malformed),
    ])
    func malformedFormsAreRefusedBeforeTheSignature(body: String, error: SignedRequestError) {
        var asked = false
        #expect(throws: error) { try MetaSignedRequest.userID(form: body) { _, _ in asked = true; return true } }
        #expect(!asked)
    }

    @Test(arguments: [
        #"{"algorithm":"RSA","user_id":"1"}"#, #"{"algorithm":"HMAC-SHA256"}"#, #"{"algorithm":"HMAC-SHA256","user_id":""}"#,
        #"{"algorithm":"HMAC-SHA256","user_id":1.5}"#, #"{"algorithm":"HMAC-SHA256","user_id":"1","user_id":"2"}"#, "[]", "not json",
    ])
    func signedButNotUnderstood(payload: String) {
        let signed = MetaSignedRequest.sign(payload: payload, secret: "test-app-secret")
        #expect(throws: SignedRequestError.notUnderstood) { try MetaSignedRequest.userID(form: form(signed), appSecret: secret) }
    }

    @Test func theMACCoversThePayloadTextAsSent() throws {
        let body = MetaSignedRequest.base64URLEncode(Array(#"{"algorithm":"HMAC-SHA256","user_id":"7"}"#.utf8))
        let mac = [UInt8](repeating: 0xFB, count: 32)
        var seen: (mac: [UInt8], signed: [UInt8])?
        let userID = try MetaSignedRequest.userID(signedRequest: MetaSignedRequest.base64URLEncode(mac) + "." + body) { mac, signed in
            seen = (mac, signed)
            return true
        }
        #expect(userID == "7")
        #expect(seen?.mac == mac)
        #expect(seen?.signed == Array(body.utf8))
    }

    /// Issue 13: a callback is refused when `issued_at` is missing, over a day old or ahead of the clock; either secret signs.
    @Test func staleCallbacksAreRefusedAndEitherSecretSigns() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        func signed(_ issued: String, secret: String = "test-app-secret") -> String {
            form(MetaSignedRequest.sign(payload: #"{"algorithm":"HMAC-SHA256",\#(issued)"user_id":"5"}"#, secret: secret))
        }
        let secrets = [secret, Secret("second-secret")]
        #expect(try MetaSignedRequest.verifiedCallback(form: signed(#""issued_at":1799990000,"#), secrets: secrets, now: now).userID == "5")
        #expect(try MetaSignedRequest.verifiedCallback(form: signed(#""issued_at":1799990000,"#, secret: "second-secret"), secrets: secrets, now: now).userID == "5")
        #expect(throws: SignedRequestError.invalidSignature) {
            try MetaSignedRequest.verifiedCallback(form: signed(#""issued_at":1799990000,"#, secret: "third"), secrets: secrets, now: now)
        }
        for issued in ["", #""issued_at":1799913599,"#, #""issued_at":1800000301,"#, #""issued_at":"soon","#] {
            #expect(throws: SignedRequestError.stale, "\(issued)") { try MetaSignedRequest.verifiedCallback(form: signed(issued), secrets: secrets, now: now) }
        }
    }

    @Test func base64URLRoundTripsWithAndWithoutPadding() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 250) }
            let encoded = MetaSignedRequest.base64URLEncode(bytes)
            #expect(!encoded.contains("=") && !encoded.contains("+") && !encoded.contains("/"))
            #expect(MetaSignedRequest.base64URL(Substring(encoded)) == bytes)
        }
        #expect(MetaSignedRequest.base64URL("e30=") == Array("{}".utf8))
        #expect(MetaSignedRequest.base64URL("e") == nil)
    }
}
