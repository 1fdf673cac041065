import AIReplies
@testable import DispatchService
import FlowtalkContracts
import FlowtalkCore
import FlowtalkDevSupport
import FlowtalkStore
import FlowtalkTesting
import Foundation
import InstagramGraph
import Logging
import PostgresNIO
import Testing

/// Stands in for the Graph API's Send API: records what would have been sent, or fails as told.
actor FakeSender: ReplySender {
    private(set) var sent: [(to: String, text: String)] = []
    private var failures: [GraphError] = []

    /// The next sends fail with these, in order; later ones succeed.
    func failNext(_ errors: [GraphError]) { failures = errors }

    func texts(to customer: String) -> [String] { sent.filter { $0.to == customer }.map(\.text) }

    func sendText(from instagramUserID: String, to recipient: String, text: String, token: Secret<String>) async throws -> [String] {
        if !failures.isEmpty { throw failures.removeFirst() }
        sent.append((recipient, text))
        return ["out-\(sent.count)"]
    }
}

/// The handler on a real PostgreSQL with a fake sender: no processes, no network.
@Suite struct InboundHandlerTests {
    static let shop = "17841400000000777"

    struct Harness {
        let handler: InboundHandler
        let queue: JobQueue
        let client: PostgresClient
        let sender: FakeSender
        let seeder: AccountSeeder
        let accountID: UUID

        /// Queues the event as ingest would, claims it as a worker would, and runs the handler once. The job is completed
        /// when the handler returns and put back (due now) when it throws, as JobWorker does; the error is returned.
        @discardableResult
        func run(_ event: InboundEvent) async throws -> (any Error)? {
            _ = try await queue.enqueue([InboundEventJob.make(event)])
            return try await runQueued()
        }

        @discardableResult
        func runQueued() async throws -> (any Error)? {
            let claimed = try await queue.claim(kinds: InboundEventJob.kinds, limit: 1, worker: "test", lease: .seconds(60))
            let job = try #require(claimed.first, "no job to run")
            do {
                try await handler.handle(job, logger: .quiet("handler"))
                _ = try await queue.complete([job])
                return nil
            } catch {
                try await queue.fail(job, error: "test", retryAfter: .zero)
                return error
            }
        }

        func replyStates(_ customer: String) async throws -> [String] {
            var states: [String] = []
            for try await state in try await client.query("SELECT state FROM replies WHERE customer_id = \(customer) ORDER BY id").decode(String.self) {
                states.append(state)
            }
            return states
        }

        func activity(_ customer: String) async throws -> [String] {
            var rows: [String] = []
            for try await (outcome, reason) in try await client.query(
                "SELECT outcome, coalesce(reason, '') FROM activity WHERE customer_id = \(customer) ORDER BY id"
            ).decode((String, String).self) { rows.append(reason.isEmpty ? outcome : "\(outcome):\(reason)") }
            return rows
        }

        func jobsLeft() async throws -> Int {
            var n = 0
            for try await count in try await client.query("SELECT count(*)::int FROM jobs").decode(Int.self) { n = count }
            return n
        }
    }

    static func withHarness(_ body: @Sendable (Harness) async throws -> Void) async throws {
        try await TestDatabase.withMigrated { _, client in
            let (vault, _) = TokenVault.testing()
            let seeder = AccountSeeder(client: client, vault: vault, logger: .quiet("seed"))
            let accountID = try await seeder.createAccount(email: "shop@example.com", instagramUserID: shop, username: "shop", token: Secret("IGAA-test"))
            try await seeder.setSettings(accountID: accountID, AccountSettings(cooldownSeconds: 0, humanPauseMinutes: 60))
            try await seeder.addRule(accountID: accountID, keywords: ["price"], reply: "Our prices start at 10 EUR.")
            let store = DispatchStores(client: Database(client), logger: .quiet("store"))
            let ai = AIResponder(client: nil, store: store, breaker: CircuitBreaker(), metrics: AIMetrics(), conversationLimit: 10)
            let sender = FakeSender()
            let handler = InboundHandler(store: store, sender: sender, vault: vault, ai: ai)
            let queue = JobQueue(client: client, logger: .quiet("queue"))
            try await body(Harness(handler: handler, queue: queue, client: client, sender: sender, seeder: seeder, accountID: accountID))
        }
    }

    static func message(_ text: String, from customer: String, mid: String = "m-\(UUID().uuidString)", echo: Bool = false) -> InboundEvent {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var event = InboundEvent(kind: echo ? .echo : .message, accountID: shop, customerID: customer, mid: mid, timestampMs: now, receivedAtMs: now)
        event.text = text
        return event
    }

    @Test func aMatchingMessageIsSentOnceAndRecorded() async throws {
        try await Self.withHarness { (h: Harness) async throws in
            let event = Self.message("what is the price?", from: "c-1")
            #expect(try await h.run(event) == nil)
            #expect(await h.sender.texts(to: "c-1") == ["Our prices start at 10 EUR."])
            #expect(try await h.replyStates("c-1") == ["sent"])
            #expect(try await h.activity("c-1") == ["replied"])
            // Meta delivers the same message again: the queue drops it, and a second run of a done job sends nothing.
            _ = try await h.queue.enqueue([InboundEventJob.make(event)])
            #expect(try await h.jobsLeft() == 0)
            #expect(await h.sender.texts(to: "c-1").count == 1)
        }
    }

    @Test func aRefusedSendIsParkedAndSentByTheNextRun() async throws {
        try await Self.withHarness { (h: Harness) async throws in
            await h.sender.failNext([.transient("HTTP 500")])
            let error = try await h.run(Self.message("price?", from: "c-2"))
            #expect(error is JobFailure, "the job is retried")
            #expect(try await h.replyStates("c-2") == ["retry"])
            #expect(await h.sender.texts(to: "c-2").isEmpty)
            #expect(try await h.runQueued() == nil)
            #expect(try await h.replyStates("c-2") == ["sent"])
            #expect(await h.sender.texts(to: "c-2") == ["Our prices start at 10 EUR."])
            #expect(try await h.activity("c-2") == ["replied"])
        }
    }

    @Test func anAnswerThatNeverCameIsUnknownAndNeverSentAgain() async throws {
        try await Self.withHarness { (h: Harness) async throws in
            await h.sender.failNext([.ambiguous("timeout")])
            #expect(try await h.run(Self.message("price?", from: "c-3")) == nil)
            #expect(try await h.replyStates("c-3") == ["unknown"])
            #expect(try await h.activity("c-3") == ["unknown:no_answer"])
            #expect(try await h.jobsLeft() == 0)
        }
    }

    @Test func theBotsOwnEchoChangesNothingAndAPersonsEchoPausesTheConversation() async throws {
        try await Self.withHarness { (h: Harness) async throws in
            #expect(try await h.run(Self.message("price?", from: "c-4")) == nil)
            // Instagram echoes the bot's message (its id came back from the send): not a person answering.
            #expect(try await h.run(Self.message("Our prices start at 10 EUR.", from: "c-4", mid: "out-1", echo: true)) == nil)
            #expect(try await h.activity("c-4") == ["replied"])
            // The business answers from the Instagram app: the bot steps back, and the next question is left to them.
            #expect(try await h.run(Self.message("I'll call you", from: "c-4", mid: "human-1", echo: true)) == nil)
            #expect(try await h.run(Self.message("and the price of the big one?", from: "c-4")) == nil)
            #expect(try await h.activity("c-4") == ["replied", "paused:human_reply", "skipped:human_active"])
            #expect(await h.sender.texts(to: "c-4").count == 1)
        }
    }

    /// A reply parked for a retry is sent long after its row was created (a 429 storm, an outage). When that late send
    /// is cut off, Instagram's echo of it must still confirm it: the window starts when the send began, not when the
    /// reply was created. Before, the echo was taken for a person answering and the conversation was paused for an hour
    /// (the 600-s chaos run logged one such pause, with no person in it).
    @Test func theEchoOfALateResendConfirmsItInsteadOfPausingTheConversation() async throws {
        try await Self.withHarness { (h: Harness) async throws in
            await h.sender.failNext([.transient("HTTP 429"), .ambiguous("timeout")])
            #expect(try await h.run(Self.message("price?", from: "c-6")) is JobFailure)
            #expect(try await h.replyStates("c-6") == ["retry"])
            // The retry comes ten minutes after the reply was begun.
            try await h.client.query("UPDATE replies SET created_at = created_at - interval '10 minutes' WHERE customer_id = 'c-6'")
            #expect(try await h.runQueued() == nil)
            #expect(try await h.replyStates("c-6") == ["unknown"])
            // Instagram had the message after all: its echo arrives now.
            #expect(try await h.run(Self.message("Our prices start at 10 EUR.", from: "c-6", mid: "late-echo", echo: true)) == nil)
            #expect(try await h.replyStates("c-6") == ["sent"])
            let activity = try await h.activity("c-6")
            #expect(activity.contains("replied:confirmed_by_echo"), "\(activity)")
            #expect(!activity.contains("paused:human_reply"), "\(activity)")
        }
    }

    @Test func anEventWithoutASenderIsLoggedOnceWithoutACustomer() async throws {
        try await Self.withHarness { (h: Harness) async throws in
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            let event = InboundEvent(kind: .message, accountID: Self.shop, customerID: nil, mid: "m-nobody", timestampMs: now, receivedAtMs: now)
            #expect(try await h.run(event) == nil)
            var rows: [String?] = []
            for try await (customer, reason) in try await h.client.query("SELECT customer_id, reason FROM activity").decode((String?, String?).self) {
                #expect(reason == "incomplete_event")
                rows.append(customer)
            }
            #expect(rows == [nil])
            #expect(await h.sender.sent.isEmpty)
        }
    }

    @Test func noRuleAndNoAIIsRecordedAsNoRule() async throws {
        try await Self.withHarness { (h: Harness) async throws in
            #expect(try await h.run(Self.message("hello there", from: "c-5")) == nil)
            #expect(try await h.replyStates("c-5").isEmpty)
            #expect(try await h.activity("c-5") == ["skipped:no_rule"])
            #expect(await h.sender.texts(to: "c-5").isEmpty)
        }
    }
}

/// Two runs of one job at once: the first one's lease ran out while it was stopped, and it goes on after the second
/// claimed the job. The first decides between the second's look for a reply and its decision, then parks its reply for
/// a retry it can no longer schedule. The second must not end the job as done (the 60-s chaos run lost a DM that way).
@Suite struct OverlappingRunsTests {
    /// The first run's reply, parked for a retry (its job must run again soon and send it), or still being sent (the
    /// first run is alive: its send is left to it for a minute, not taken for an interrupted one).
    @Test(arguments: ["retry", "sending"])
    func aRunThatFindsTheMessageDecidedByAnotherKeepsTheJobForItsUnfinishedReply(state: String) async throws {
        try await InboundHandlerTests.withHarness { (h: InboundHandlerTests.Harness) async throws in
            let event = InboundHandlerTests.message("price?", from: "c-7")
            _ = try await h.queue.enqueue([InboundEventJob.make(event)])
            let claimed = try await h.queue.claim(kinds: InboundEventJob.kinds, limit: 1, worker: "second", lease: .seconds(60))
            let job = try #require(claimed.first)
            let store = DispatchStores(client: Database(h.client), logger: .quiet("first"))
            let second = try await store.client.withTransaction(logger: .quiet("first")) { db -> Task<(any Error)?, Never> in
                // The first run's decision, not committed yet: the message handled, its reply begun (and further on parked).
                var first: Int32 = 0
                for try await pid in try await db.query("SELECT pg_backend_pid()", logger: .quiet("first")).decode(Int32.self) { first = pid }
                #expect(try await store.conversations.markHandled(mid: event.mid!, kind: "message", accountID: h.accountID, on: db))
                _ = try await store.conversations.beginReply(
                    accountID: h.accountID, inboundMID: event.mid!, customerID: "c-7", source: "rule", ruleID: nil, state: state, on: db)
                // The second run finds no reply yet and waits on the first one's mark of the message.
                let second = Task { () -> (any Error)? in
                    do { try await h.handler.handle(job, logger: .quiet("second")) } catch { return error }
                    return nil
                }
                var waiting = false
                for _ in 0..<200 where !waiting {
                    try await Task.sleep(for: .milliseconds(25))
                    for try await n in try await h.client.query(
                        "SELECT count(*)::int FROM pg_stat_activity WHERE \(first) = ANY(pg_blocking_pids(pid))"
                    ).decode(Int.self) { waiting = n > 0 }
                }
                #expect(waiting, "the second run waits on the first one's decision")
                return second
            }
            let error = await second.value
            guard case JobFailure.retryAfter(let delay, _)? = error as? JobFailure else {
                Issue.record("the job must not end while the first run's reply is unfinished: \(String(describing: error))")
                return
            }
            try await h.queue.fail(job, error: "test", retryAfter: .zero)
            #expect(try await h.jobsLeft() == 1)
            if state == "sending" {
                #expect(delay >= .seconds(60), "a send still going is left to its run")
                #expect(try await h.replyStates("c-7") == ["sending"])
                #expect(await h.sender.texts(to: "c-7").isEmpty)
                return
            }
            // Its next run takes the parked reply up and sends it.
            #expect(try await h.runQueued() == nil)
            #expect(try await h.replyStates("c-7") == ["sent"])
            #expect(await h.sender.texts(to: "c-7") == ["Our prices start at 10 EUR."])
        }
    }
}
