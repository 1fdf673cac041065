import FlowtalkCore
import Foundation
import InstagramGraph
import Testing

@Suite struct GraphErrorTests {
    /// The real error bodies of shared/reference/instagram-platform.md §8 (F7), and what the sender must do with each.
    @Test(arguments: [
        (400, #"{"error":{"message":"(#10) This message is sent outside of allowed window.","type":"OAuthException","code":10,"error_subcode":2018278,"fbtrace_id":"A"}}"#, GraphError.outsideWindow),
        (400, #"{"error":{"message":"(#10) outside window","type":"OAuthException","code":10,"error_subcode":2534022}}"#, .outsideWindow),
        (400, #"{"error":{"message":"(#551) This person isn't available right now.","type":"OAuthException","code":551,"error_subcode":1545041,"fbtrace_id":"A"}}"#, .recipientUnavailable),
        (400, #"{"error":{"message":"(#4) Application request limit reached","type":"OAuthException","is_transient":true,"code":4,"fbtrace_id":"A"}}"#, .rateLimited(retryAfterSeconds: 30)),
        (400, #"{"error":{"message":"Error validating access token: Session has expired","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"H"}}"#, .tokenInvalid(subcode: 463)),
        (400, #"{"error":{"message":"Invalid OAuth 2.0 Access Token","type":"IGApiException","code":190}}"#, .tokenInvalid(subcode: nil)),
        (400, #"{"error":{"message":"(#100) Upload attachment failure.","type":"OAuthException","code":100,"error_subcode":2018047}}"#, .permanent(code: 100, subcode: 2018047)),
        (500, #"{"error":{"message":"An unexpected error has occurred.","type":"OAuthException","code":2,"is_transient":true}}"#, .transient("code 2")),
        (502, "<html>Bad gateway</html>", .transient("HTTP 502")),
        (429, "", .rateLimited(retryAfterSeconds: 30)),
        (400, #"{"error":{"message":"rate","code":613,"error_subcode":2534040}}"#, .rateLimited(retryAfterSeconds: 30)),
    ])
    func classification(status: Int, body: String, expected: GraphError) {
        #expect(GraphError.classify(status: status, body: Array(body.utf8), retryAfter: "30").reason == expected.reason)
        #expect(GraphError.classify(status: status, body: Array(body.utf8), retryAfter: "30") == expected || expected.reason == "transient_error")
    }

    /// Issue 13: a `Retry-After` was honoured with no cap, so a DM's text could wait in the queue for days past the
    /// 24-hour reply window. Now at most an hour; a negative one is no wait.
    @Test(arguments: [("86400", 3600), ("3601", 3600), ("3600", 3600), ("30", 30), ("-5", 0), ("9999999999999", 3600)])
    func anHonouredRetryAfterIsAtMostAnHour(header: String, seconds: Int) {
        #expect(GraphError.classify(status: 429, body: [], retryAfter: header) == .rateLimited(retryAfterSeconds: seconds))
        let body = Array(#"{"error":{"message":"(#4) limit","code":4,"is_transient":true}}"#.utf8)
        #expect(GraphError.classify(status: 400, body: body, retryAfter: header) == .rateLimited(retryAfterSeconds: seconds))
    }
}

@Suite struct TextSplittingTests {
    @Test func shortTextIsOneMessage() {
        #expect(GraphClient.split("Hello!") == ["Hello!"])
    }

    @Test func longTextSplitsOnSentencesWithinTheByteLimit() {
        let sentence = "This is a sentence of moderate length that explains something useful. "
        let text = String(repeating: sentence, count: 40)
        let parts = GraphClient.split(text)
        #expect(parts.count > 1)
        #expect(parts.allSatisfy { $0.utf8.count <= 1000 && !$0.isEmpty })
        #expect(parts.allSatisfy { $0.hasSuffix(".") })
        #expect(parts.joined(separator: " ") == text.trimmingCharacters(in: .whitespaces))
    }

    @Test func multiByteTextIsNeverCutInsideACharacter() {
        let text = String(repeating: "مرحبا👋🏽", count: 300)  // no spaces, no sentence ends
        let parts = GraphClient.split(text)
        #expect(parts.count > 1)
        #expect(parts.allSatisfy { $0.utf8.count <= 1000 })
        #expect(parts.joined() == text)
    }

    @Test func wordsAreKeptWholeWhenThereIsNoSentenceEnd() {
        let text = String(repeating: "word ", count: 400)
        let parts = GraphClient.split(text)
        #expect(parts.allSatisfy { $0.utf8.count <= 1000 && !$0.hasPrefix(" ") && $0.split(separator: " ").allSatisfy { $0 == "word" } })
    }
}
