import FlowtalkContracts
import FlowtalkCore
import FlowtalkTesting
import Foundation
import Testing

@Suite struct InstagramWebhookTests {
    let now: Int64 = 1_762_022_400_000

    func parse(_ text: String) throws -> ParsedWebhook { try InstagramWebhook.parse(Array(text.utf8), receivedAtMs: now) }

    @Test func f1InboundTextMessage() throws {
        let parsed = try parse(Fixtures.f1)
        #expect(parsed.skipped.isEmpty)
        let event = try #require(parsed.events.first)
        #expect(parsed.events.count == 1)
        #expect(event.kind == .message)
        #expect(event.accountID == "17841400538867190")
        #expect(event.customerID == "1129842642640637")
        #expect(event.text == "OI")
        #expect(event.timestampMs == 1_762_022_346_848)
        #expect(event.receivedAtMs == now)
        #expect(event.mid?.hasPrefix("aWdfZAG1faXRlbTox") == true)
        #expect(InboundEventJob.dedupeKey(event) == "ig:message:\(event.mid!)")
        #expect(InboundEventJob.serializationKey(event) == "conv:17841400538867190:1129842642640637")
    }

    @Test func f2ReadReceiptIsCountedNotQueued() throws {
        let parsed = try parse(Fixtures.f2)
        #expect(parsed.events.isEmpty)
        #expect(parsed.skipped == ["read": 1])
    }

    @Test func f3EchoBelongsToTheCustomerItWasSentTo() throws {
        let event = try #require(try parse(Fixtures.f3).events.first)
        #expect(event.kind == .echo)
        #expect(event.accountID == "17841479961311534")
        #expect(event.customerID == "2095110131238447")
        #expect(InboundEventJob.dedupeKey(event).hasPrefix("ig:echo:"))
    }

    @Test func f4AttachmentTypesAreKept() throws {
        let event = try #require(try parse(Fixtures.f4).events.first)
        #expect(event.kind == .message)
        #expect(event.text == nil)
        #expect(event.attachmentTypes == ["ig_reel"])
    }

    @Test func f5EditWithoutSenderIsQueuedAsPossibleNewMessage() throws {
        let event = try #require(try parse(Fixtures.f5).events.first)
        #expect(event.kind == .edit)
        #expect(event.customerID == nil)
        #expect(InboundEventJob.serializationKey(event) == nil)
        #expect(event.accountID == "17841458318357324")
    }

    @Test func f6DashboardTestPayloadIsSkipped() throws {
        let parsed = try parse(Fixtures.f6)
        #expect(parsed.events.isEmpty)
        #expect(parsed.skipped == ["changes": 1])
    }

    @Test func everyEntryAndEveryItemIsRead() throws {
        let body = """
            {"object":"instagram","entry":[
              {"id":"111","time":1,"messaging":[
                {"sender":{"id":"c1"},"recipient":{"id":"111"},"timestamp":1762022346848,"message":{"mid":"m1","text":"price?"}},
                {"sender":{"id":"c1"},"recipient":{"id":"111"},"timestamp":1762022346849,"postback":{"mid":"p1","title":"Opening hours?","payload":"FAQ_HOURS"}},
                {"sender":{"id":"c1"},"recipient":{"id":"111"},"timestamp":1762022346850,"reaction":{"mid":"m1","action":"react","reaction":"love","emoji":"❤️"}},
                {"sender":{"id":"c1"},"recipient":{"id":"111"},"timestamp":1762022346851,"message_edit":{"mid":"m1","text":"price??","num_edit":"1"}},
                {"sender":{"id":"c1"},"recipient":{"id":"111"},"timestamp":1762022346852,"message":{"mid":"m0","is_deleted":true}},
                {"sender":{"id":"c1"},"recipient":{"id":"111"},"timestamp":1762022346853,"referral":{"ref":"x","source":"SHORTLINKS","type":"OPEN_THREAD"}},
                {"sender":{"id":"c1"},"recipient":{"id":"111"},"timestamp":1762022346854,"optin":{}}
              ]},
              {"id":"222","time":1,"messaging":[
                {"sender":{"id":"c2"},"recipient":{"id":"222"},"timestamp":"1762022346","message":{"mid":"m2","text":"hi","quick_reply":{"payload":"QR"}}}
              ]}
            ]}
            """
        let parsed = try parse(body)
        #expect(parsed.events.map(\.kind) == [.message, .postback, .reaction, .deleted, .message])
        #expect(parsed.events[1].postbackPayload == "FAQ_HOURS")
        #expect(parsed.events[1].postbackTitle == "Opening hours?")
        // A reaction names the message reacted to; its own id is made from the action, the time and that message.
        #expect(parsed.events[2].replyToMID == "m1")
        #expect(parsed.events[2].reaction == "react")
        #expect(parsed.events[2].mid == "reaction.react.1762022346850.m1")
        #expect(parsed.events[3].text == nil)
        #expect(parsed.events[4].accountID == "222")
        #expect(parsed.events[4].quickReplyPayload == "QR")
        // Seconds in a string become milliseconds.
        #expect(parsed.events[4].timestampMs == 1_762_022_346_000)
        #expect(parsed.skipped == ["edit": 1, "referral": 1, "unknown": 1])
    }

    @Test func idsAboveTwoToThe53AreKeptExactly() throws {
        let body = #"{"object":"instagram","entry":[{"id":27640875392278831,"messaging":[{"sender":{"id":9007199254740993},"recipient":{"id":27640875392278831},"timestamp":1762022346848,"message":{"mid":"m","text":"x"}}]}]}"#
        let event = try #require(try parse(body).events.first)
        #expect(event.accountID == "27640875392278831")
        #expect(event.customerID == "9007199254740993")
    }

    @Test func topLevelArrayFromMetaSamplesIsTolerated() throws {
        let parsed = try parse("[\(Fixtures.f1)]")
        #expect(parsed.events.count == 1)
    }

    @Test func malformedItemIsSkippedAndTheRestKept() throws {
        let body = #"{"object":"instagram","entry":[{"id":"1","messaging":[{"sender":{"id":true},"message":{"mid":"a","text":"x"}},{"sender":{"id":"c"},"recipient":{"id":"1"},"timestamp":1,"message":{"mid":"b","text":"y"}},{"sender":{"id":"c"},"message":{"mid":"","text":"z"}},{"sender":{"id":"c d"},"message":{"mid":"q","text":"z"}}]}]}"#
        let parsed = try parse(body)
        #expect(parsed.events.map(\.mid) == ["b"])
        #expect(parsed.skipped == ["malformed_item": 1, "invalid_id": 2])
    }

    @Test(arguments: [
        "", "not json", "{", #"{"object":"instagram"}"#, #"{"object":"instagram","entry":{}}"#, "[]", "42", #"{"object":"instagram","entry":[]} trailing"#,
    ])
    func malformedBodiesAreRefused(body: String) {
        #expect(throws: WebhookPayloadError.self) { try parse(body) }
    }

    @Test func unknownObjectIsRefused() {
        #expect(throws: WebhookPayloadError.unknownObject) { try parse(#"{"object":"page","entry":[]}"#) }
    }

    /// Issue 12: a DM containing U+0000 failed its insert (PostgreSQL text cannot hold it) and blocked the conversation
    /// until the job died. The NUL is dropped at ingest; the rest of the text, and of the delivery, is kept.
    @Test func nulIsDroppedAndNonLatinTextSurvivesIntoTheEvent() throws {
        let body = #"{"object":"instagram","entry":[{"id":"1","messaging":[{"sender":{"id":"c"},"recipient":{"id":"1"},"timestamp":1762022346848,"message":{"mid":"m","text":"a\u0000b مرحبا 👋🏽","quick_reply":{"payload":"P\u0000"}}},"#
            + #"{"sender":{"id":"c"},"recipient":{"id":"1"},"timestamp":1762022346849,"postback":{"mid":"p","title":"\u0000T","payload":"X\u0000Y"}}]}]}"#
        let events = try parse(body).events
        let event = try #require(events.first)
        #expect(event.text == "ab مرحبا 👋🏽" && event.quickReplyPayload == "P")
        #expect(events.last?.postbackTitle == "T" && events.last?.postbackPayload == "XY")
        let roundTrip = try JSONDecoder().decode(InboundEvent.self, from: JSONEncoder().encode(event))
        #expect(roundTrip == event)
    }

    /// Found by fuzzing (Fuzz/Corpus/webhook/regression-timestamp-min-int64.json): a timestamp taken as seconds was
    /// scaled to milliseconds with an overflowing multiply, and one signed delivery trapped the ingest process. A
    /// negative timestamp is now a malformed item: skipped and counted, the rest of the delivery kept.
    @Test(arguments: ["-9223372036854775808", #""-9223372036854775808""#, "-9223372036854775", "-1"])
    func negativeTimestampIsAMalformedItemNotATrap(timestamp: String) throws {
        let body = #"{"object":"instagram","entry":[{"id":"17841400538867190","messaging":["#
            + #"{"sender":{"id":"c"},"recipient":{"id":"17841400538867190"},"timestamp":"# + timestamp + #","message":{"mid":"bad","text":"hi"}},"#
            + #"{"sender":{"id":"c"},"recipient":{"id":"17841400538867190"},"timestamp":1762022346848,"message":{"mid":"good","text":"hi"}}]}]}"#
        let parsed = try parse(body)
        #expect(parsed.events.map(\.mid) == ["good"])
        #expect(parsed.skipped == ["malformed_item": 1])
    }

    @Test(arguments: [
        ("0", Int64(0)), ("99999999999", 99_999_999_999_000), ("100000000000", 100_000_000_000),
        ("9223372036854775807", Int64.max), (#""9223372036854775807""#, Int64.max),
    ])
    func timestampsAtTheEdgesOfSecondsAndMilliseconds(timestamp: String, expected: Int64) throws {
        let body = #"{"object":"instagram","entry":[{"id":"1","messaging":[{"sender":{"id":"c"},"recipient":{"id":"1"},"timestamp":"#
            + timestamp + #","message":{"mid":"m","text":"x"}}]}]}"#
        #expect(try parse(body).events.map(\.timestampMs) == [expected])
    }

    /// Same overflow, through `num_edit` (an edit count, which was scaled like a timestamp before being compared with 0).
    @Test func hugeEditCountIsAnEditNotATrap() throws {
        let body = #"{"object":"instagram","entry":[{"id":"1","messaging":[{"timestamp":1762022346848,"message_edit":{"mid":"m","num_edit":-9223372036854775808}}]}]}"#
        let parsed = try parse(body)
        #expect(parsed.events.isEmpty)
        #expect(parsed.skipped == ["edit": 1])
    }

    @Test func tooManyItemsAreRefusedWhole() {
        let item = #"{"sender":{"id":"c"},"recipient":{"id":"1"},"timestamp":1,"read":{"mid":"m"}}"#
        let body = #"{"object":"instagram","entry":[{"id":"1","messaging":["# + Array(repeating: item, count: InstagramWebhook.maximumItems + 1).joined(separator: ",") + "]}]}"
        #expect(throws: WebhookPayloadError.tooManyEvents(InstagramWebhook.maximumItems)) { try parse(body) }
    }
}

@Suite struct InboundEventEncodingTests {
    @Test func handWrittenJSONDecodesToTheSameEvent() throws {
        var event = InboundEvent(kind: .message, accountID: "17841400538867190", customerID: "1129842642640637", mid: "m\"1\\", timestampMs: 1, receivedAtMs: 2)
        event.text = "line\nbreak \t tab \u{0} nul \u{1F} unit \"quoted\" مرحبا 👋🏽"
        event.attachmentTypes = ["image", "ig_reel"]
        event.quickReplyPayload = "QR"
        event.replyToMID = "r"
        event.postbackPayload = "P"
        event.postbackTitle = "T"
        event.isSelf = false
        event.isUnsupported = true
        let decoded = try JSONDecoder().decode(InboundEvent.self, from: Data(event.jsonBytes()))
        #expect(decoded == event)
        let minimal = InboundEvent(kind: .edit, accountID: "a", customerID: nil, mid: nil, timestampMs: -5, receivedAtMs: 0)
        #expect(try JSONDecoder().decode(InboundEvent.self, from: Data(minimal.jsonBytes())) == minimal)
        // And it is a document our own strict parser accepts.
        #expect(throws: Never.self) { try JSONValue.parse(event.jsonBytes()) }
    }

    /// Issue 16, item 1: a reply to the business's story, a story mention (as an attachment, with or without text, or as a
    /// referral) are story events; an echo never is; the story's id and address are not kept.
    @Test func storyRepliesAndMentionsAreStoryEventsAndKeepNoStoryAddress() throws {
        func parse(_ text: String) throws -> ParsedWebhook { try InstagramWebhook.parse(Array(text.utf8), receivedAtMs: 1) }
        func item(_ json: String) -> String {
            #"{"object":"instagram","entry":[{"id":"1784","time":1,"messaging":[\#(json)]}]}"#
        }
        let story = #""story":{"id":"st-1","url":"https://lookaside.fbsbx.com/x?asset_id=9"}"#
        let reply = try parse(item(#"{"sender":{"id":"c1"},"recipient":{"id":"1784"},"timestamp":5,"message":{"mid":"m1","text":"love it","reply_to":{"mid":"m0",\#(story)}}}"#))
        #expect(reply.events.first?.storyTrigger == "story_reply" && reply.events.first?.text == "love it")
        let mention = try parse(item(#"{"sender":{"id":"c2"},"recipient":{"id":"1784"},"timestamp":5,"message":{"mid":"m2","text":"look!","attachments":[{"type":"story_mention","payload":{"url":"https://lookaside.fbsbx.com/y"}}]}}"#))
        #expect(mention.events.first?.storyTrigger == "story_mention" && mention.events.first?.logKind == "story_mention")
        let echo = try parse(item(#"{"sender":{"id":"1784"},"recipient":{"id":"c3"},"timestamp":5,"message":{"mid":"m3","is_echo":true,"reply_to":{\#(story)}}}"#))
        #expect(echo.events.first?.storyTrigger == nil && echo.events.first?.kind == .echo)
        let referral = try parse(item(#"{"sender":{"id":"c4"},"recipient":{"id":"1784"},"timestamp":7,"referral":{"source":"STORY_MENTION","type":"OPEN_THREAD"}}"#))
        let made = try #require(referral.events.first)
        #expect(made.storyTrigger == "story_mention" && made.mid == "mention.1784.c4.\(made.timestampMs)")
        let undated = try parse(item(#"{"sender":{"id":"c5"},"recipient":{"id":"1784"},"referral":{"source":"STORY_MENTION"}}"#))
        #expect(undated.events.isEmpty && undated.skipped["referral"] == 1)
        for event in reply.events + mention.events + referral.events {
            let json = String(decoding: event.jsonBytes(), as: UTF8.self)
            #expect(!json.contains("lookaside") && !json.contains("st-1"), "the queued event keeps the story: \(json)")
        }
    }
}
