@testable import DispatchService
import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import FlowtalkTesting
import InstagramGraph
import Foundation
import PostgresNIO
import Testing

/// Issue 13, items 4 and 5: an unsent message loses its text and its reply if that has not gone out; inbound jobs past
/// the reply window leave the queue; conversations, replies and sent-message ids go 30 days after their last use.
@Suite struct UnsendAndExpiryTests {
    typealias Harness = InboundHandlerTests.Harness

    static func unsend(_ mid: String, from customer: String) -> InboundEvent {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        return InboundEvent(kind: .deleted, accountID: InboundHandlerTests.shop, customerID: customer, mid: mid, timestampMs: now, receivedAtMs: now)
    }

    /// The texts the activity log still holds for a customer (message and reply summaries), and its unsent marks.
    static func loggedTexts(_ h: Harness, _ customer: String) async throws -> (texts: [String], unsent: Int) {
        var texts: [String] = []
        var unsent = 0
        for try await (summary, reply, at) in try await h.client.query(
            "SELECT summary, reply_summary, unsent_at FROM activity WHERE customer_id = \(customer) ORDER BY id"
        ).decode((String?, String?, Date?).self) {
            texts += [summary, reply].compactMap { $0 }
            if at != nil { unsent += 1 }
        }
        return (texts, unsent)
    }

    @Test func anAnsweredMessageThatIsUnsentLosesItsTextInTheLog() async throws {
        try await InboundHandlerTests.withHarness { (h: Harness) async throws in
            #expect(try await h.run(InboundHandlerTests.message("price? call me on 555 0100", from: "c-u1", mid: "m-u1")) == nil)
            #expect(try await Self.loggedTexts(h, "c-u1").texts == ["price? call me on 555 0100", "Our prices start at 10 EUR."])
            #expect(try await h.run(Self.unsend("m-u1", from: "c-u1")) == nil)
            let after = try await Self.loggedTexts(h, "c-u1")
            #expect(after.texts.isEmpty && after.unsent == 1)
            #expect(try await h.activity("c-u1") == ["replied", "ignored:message_deleted"])
            // Meta redelivers the unsend: nothing changes.
            _ = try await h.queue.enqueue([InboundEventJob.make(Self.unsend("m-u1", from: "c-u1"))])
            #expect(try await h.jobsLeft() == 0)
        }
    }

    @Test func aMessageUnsentBeforeItsTurnIsNeverAnswered() async throws {
        try await InboundHandlerTests.withHarness { (h: Harness) async throws in
            _ = try await h.queue.enqueue([InboundEventJob.make(InboundHandlerTests.message("price please", from: "c-u2", mid: "m-u2"))])
            _ = try await h.queue.enqueue([InboundEventJob.make(Self.unsend("m-u2", from: "c-u2"))])
            #expect(try await h.runQueued() == nil)
            #expect(try await h.runQueued() == nil)
            #expect(await h.sender.texts(to: "c-u2").isEmpty)
            #expect(try await h.replyStates("c-u2").isEmpty)
            #expect(try await h.activity("c-u2") == ["skipped:message_deleted", "ignored:message_deleted"])
            #expect(try await Self.loggedTexts(h, "c-u2").texts.isEmpty)
        }
    }

    @Test func aReplyParkedForARetryIsCancelledByTheUnsend() async throws {
        try await InboundHandlerTests.withHarness { (h: Harness) async throws in
            await h.sender.failNext([.transient("HTTP 500")])
            #expect(try await h.run(InboundHandlerTests.message("price?", from: "c-u3", mid: "m-u3")) is JobFailure)
            #expect(try await h.replyStates("c-u3") == ["retry"])
            _ = try await h.queue.enqueue([InboundEventJob.make(Self.unsend("m-u3", from: "c-u3"))])
            #expect(try await h.runQueued() == nil)  // the message's retry: it finds the unsend and does not send
            #expect(try await h.runQueued() == nil)  // the unsend
            #expect(await h.sender.texts(to: "c-u3").isEmpty)
            #expect(try await h.replyStates("c-u3") == ["skipped"])
            #expect(try await h.activity("c-u3") == ["skipped:message_deleted", "ignored:message_deleted"])
            #expect(try await Self.loggedTexts(h, "c-u3").texts.isEmpty)
        }
    }

    @Test func anInboundJobStillWaitingAfter25HoursLeavesTheQueueAndTheLogSaysWhy() async throws {
        try await InboundHandlerTests.withHarness { (h: Harness) async throws in
            _ = try await h.queue.enqueue([InboundEventJob.make(InboundHandlerTests.message("price?", from: "c-old", mid: "m-old"))])
            _ = try await h.queue.enqueue([InboundEventJob.make(InboundHandlerTests.message("price?", from: "c-new", mid: "m-new"))])
            try await h.client.query("UPDATE jobs SET created_at = now() - interval '26 hours' WHERE dedupe_key = 'ig:message:m-old'")
            let expiry = StaleInbound(client: Database(h.client), logger: .quiet("store"))
            #expect(try await expiry.expire() == 1)
            #expect(try await h.jobsLeft() == 1)
            #expect(try await h.activity("c-old") == ["skipped:outside_window"])
            // The one within the window is answered as usual.
            #expect(try await h.runQueued() == nil)
            #expect(await h.sender.texts(to: "c-new") == ["Our prices start at 10 EUR."])
            #expect(await h.sender.texts(to: "c-old").isEmpty)
        }
    }

    @Test func aReplyParkedPastTheWindowEndsAndALateUnsendStillForgets() async throws {
        try await InboundHandlerTests.withHarness { (h: Harness) async throws in
            #expect(try await h.run(InboundHandlerTests.message("price? call 555 0199", from: "c-q", mid: "m-q")) == nil)
            await h.sender.failNext([.transient("HTTP 500")])
            #expect(try await h.run(InboundHandlerTests.message("price?", from: "c-p", mid: "m-p")) is JobFailure)
            _ = try await h.queue.enqueue([InboundEventJob.make(Self.unsend("m-q", from: "c-q"))])
            try await h.client.query("UPDATE jobs SET created_at = now() - interval '26 hours'")
            let expiry = StaleInbound(client: Database(h.client), logger: .quiet("store"))
            #expect(try await expiry.expire() == 2)
            #expect(try await h.replyStates("c-p") == ["skipped"])
            #expect(try await h.activity("c-p") == ["skipped:outside_window"])
            let forgotten = try await Self.loggedTexts(h, "c-q")
            #expect(forgotten.texts.isEmpty && forgotten.unsent == 1)
            #expect(await h.sender.texts(to: "c-p").isEmpty)
        }
    }

    @Test func disconnectingCancelsParkedRepliesAndQueuedMessages() async throws {
        try await InboundHandlerTests.withHarness { (h: Harness) async throws in
            await h.sender.failNext([.transient("HTTP 500")])
            #expect(try await h.run(InboundHandlerTests.message("price?", from: "c-d1")) is JobFailure)
            _ = try await h.queue.enqueue([InboundEventJob.make(InboundHandlerTests.message("price?", from: "c-d2"))])
            #expect(try await h.jobsLeft() == 2)
            try await ConnectionStore(client: Database(h.client), logger: .quiet("store")).disconnect(accountID: h.accountID)
            #expect(try await h.jobsLeft() == 0)
            #expect(try await h.replyStates("c-d1") == ["skipped"])
            #expect(await h.sender.texts(to: "c-d1").isEmpty)
            #expect(await h.sender.texts(to: "c-d2").isEmpty)
        }
    }

    @Test func conversationsRepliesAndSentIdsGo30DaysAfterTheirLastUse() async throws {
        try await InboundHandlerTests.withHarness { (h: Harness) async throws in
            #expect(try await h.run(InboundHandlerTests.message("price?", from: "c-idle")) == nil)
            #expect(try await h.run(InboundHandlerTests.message("price?", from: "c-busy")) == nil)
            for statement: PostgresQuery in [
                "UPDATE conversations SET last_used_at = now() - interval '31 days' WHERE customer_id = 'c-idle'",
                "UPDATE replies SET created_at = now() - interval '31 days', finished_at = now() - interval '31 days' WHERE customer_id = 'c-idle'",
                "UPDATE sent_messages SET created_at = now() - interval '31 days' WHERE reply_id IN (SELECT id FROM replies WHERE customer_id = 'c-idle')",
            ] { try await h.client.query(statement) }
            let store = ConversationStore(client: Database(h.client), logger: .quiet("store"))
            #expect(try await store.purgeIdle() == 3)
            for table in ["conversations", "replies"] {
                var customers: [String] = []
                for try await id in try await h.client.query("SELECT customer_id FROM \(unescaped: table) ORDER BY customer_id").decode(String.self) {
                    customers.append(id)
                }
                #expect(customers == ["c-busy"], "\(table)")
            }
            var sent = 0
            for try await n in try await h.client.query("SELECT count(*)::int FROM sent_messages").decode(Int.self) { sent = n }
            #expect(sent == 1)
        }
    }
}
