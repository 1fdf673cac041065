import FlowtalkHTTP
import FlowtalkTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@testable import AuthService

/// Issue 12: a setting (or rule, or Ice Breaker) containing U+0000 failed its insert: PostgreSQL's text cannot hold it.
@Suite struct NULTextTests {
    @Test func everyAPIBodyWithANULIsRefusedClearly() async throws {
        try await withAuth { client, _ in
            let ana = Browser(client)
            try await ana.signUpAndIn("nul@example.com")
            let bodies: [(HTTPRequest.Method, String, String)] = [
                (.put, "/api/settings", #"{"cooldown_seconds":5,"human_pause_minutes":5,"ai_enabled":false,"business_description":"Shop\u0000","fallback_text":""}"#),
                (.post, "/api/rules", #"{"keywords":["hello\u0000"],"reply":"Hi"}"#),
                (.post, "/api/rules/test", #"{"text":"a\u0000"}"#),
                (.put, "/api/ice-breakers", #"{"items":[{"question":"Open\u0000?","answer":"Yes"}]}"#),
                (.post, "/api/auth/signup", #"{"email":"x@example.com","password":"correct horse \u0000 battery"}"#),
            ]
            for (method, uri, json) in bodies {
                let response = try await ana.send(method, uri, json)
                #expect(response.status == .badRequest && errorCode(response) == "invalid_text", "\(uri): \(response.status)")
            }
            // The settings are unchanged, and the account still works.
            #expect(try decodeJSON(SettingsBody.self, from: try await ana.send(.get, "/api/settings").body).settings.business_description == "")
            // A backslash followed by "u0000" is ordinary text.
            let literal = try await ana.send(
                .put, "/api/settings", #"{"cooldown_seconds":5,"human_pause_minutes":5,"ai_enabled":false,"business_description":"C:\\u0000","fallback_text":""}"#)
            #expect(literal.status == .ok)
        }
    }

    @Test(arguments: [
        (#"{"a":"\u0000"}"#, true), (#"{"a":"\\u0000"}"#, false), (#"{"a":"\\\u0000"}"#, true), (#"{"a":"\u00001"}"#, true),
        (#"{"a":"\u0001"}"#, false), ("{\"a\":\"\0\"}", true), (#"{"a":"ok"}"#, false), (#"{"a":"\"}"#, false),
    ])
    func theScannerFindsEscapedAndRawNULsOnly(json: String, expected: Bool) {
        #expect(StrictJSONDecoder.containsNUL(Array(json.utf8)) == expected)
    }
}
