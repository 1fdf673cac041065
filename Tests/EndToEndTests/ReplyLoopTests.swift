import AsyncHTTPClient
import FlowtalkContracts
import FlowtalkCore
import FlowtalkDevSupport
import FlowtalkStore
import FlowtalkTesting
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import ReplyRules
import Testing

/// Ingest, dispatch and the sandbox as real processes on a real PostgreSQL: a simulated customer writes, the bot answers
/// through the sandbox's Graph API, and the echo comes back through ingest.
@Suite(.serialized) struct ReplyLoopTests {
    static let shop = "17841400000000001"
    static let token = "IGAA-sandbox-token-\(UUID().uuidString)"
    static let secret = "e2e-app-secret"

    struct Stack: Sendable {
        let database: TestDatabase
        let client: PostgresClient
        let sandbox: String
        let ingest: String
        let accountID: UUID
        let environment: [String: String]
        let vault: TokenVault
    }

    static func post(_ url: String, _ json: String) async throws -> (HTTPResponseStatus, String) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: json))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(15))
        return (response.status, String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    struct Conversation: Decodable {
        struct Message: Decodable {
            let direction: String
            let customer_id: String
            let text: String
            let mid: String
        }
        let messages: [Message]
    }

    static func outgoing(_ stack: Stack, to customer: String) async throws -> [String] {
        let (_, body) = try await RealBinariesTests.get("\(stack.sandbox)/simulate/conversations/\(shop)")
        let conversation = try JSONDecoder().decode(Conversation.self, from: Data(body.utf8))
        return conversation.messages.filter { $0.direction == "out" && $0.customer_id == customer }.map(\.text)
    }

    static func dm(_ stack: Stack, from customer: String, _ text: String, mid: String? = nil, timestampMs: Int64? = nil, echo: Bool = false) async throws
        -> String
    {
        var fields = [#""ig_id":"\#(shop)""#, #""from":"\#(customer)""#, #""text":"\#(text)""#]
        if let mid { fields.append(#""mid":"\#(mid)""#) }
        if let timestampMs { fields.append(#""timestamp_ms":\#(timestampMs)"#) }
        if echo { fields.append(#""is_echo":true"#) }
        let (status, body) = try await post("\(stack.sandbox)/simulate/dm", "{\(fields.joined(separator: ","))}")
        #expect(status == .ok)
        #expect(try decodeJSON(SimulatedDelivery.self, from: body).ingest_status == 200)
        return body
    }

    /// The activity rows for a customer: (outcome, reason).
    static func activity(_ stack: Stack, customer: String) async throws -> [(String, String?)] {
        var rows: [(String, String?)] = []
        for try await row in try await stack.client.query(
            "SELECT outcome, reason FROM activity WHERE customer_id = \(customer) ORDER BY id", logger: .quiet("q")
        ).decode((String, String?).self) { rows.append(row) }
        return rows
    }

    static func replyStates(_ stack: Stack, customer: String) async throws -> [String] {
        var rows: [String] = []
        for try await state in try await stack.client.query("SELECT state FROM replies WHERE customer_id = \(customer) ORDER BY id", logger: .quiet("q"))
            .decode(String.self)
        { rows.append(state) }
        return rows
    }

    /// The running flowtalk-dispatch, which a test may kill and start again.
    final class Dispatch: @unchecked Sendable {
        private let lock = NSLock()
        private var current: ServiceProcess?
        let start: @Sendable () async throws -> ServiceProcess

        init(start: @escaping @Sendable () async throws -> ServiceProcess) { self.start = start }

        func launch() async throws {
            let running = try await start()
            lock.withLock { current = running }
        }

        /// SIGKILL: no graceful shutdown, leases and "sending" rows are left as they are.
        func killHard() async throws {
            guard let running = lock.withLock({ current }) else { return }
            try await running.killHard()
            lock.withLock { current = nil }
        }

        func stop() async {
            guard let running = lock.withLock({ current }) else { return }
            _ = try? await running.stop()
        }

        /// What the running dispatch wrote to stderr so far. Blocks while it has written nothing new: read it once.
        var log: String {
            guard let running = lock.withLock({ current }) else { return "" }
            return running.outputSoFar
        }
    }

    /// Starts sandbox, ingest and dispatch against a migrated schema with one seeded shop, runs `body`, stops them.
    /// `{sandbox}` in a dispatch variable's value stands for the sandbox's base URL.
    static func withStack(
        dispatchEnvironment: [String: String] = [:], ingestEnvironment: [String: String] = [:], _ body: @Sendable (Stack, Dispatch) async throws -> Void
    ) async throws {
        try await TestDatabase.withMigrated { database, client in
            let (vault, keyRing) = TokenVault.testing()
            let seeder = AccountSeeder(client: client, vault: vault, logger: .quiet("seed"))
            let accountID = try await seeder.createAccount(email: "shop@example.com", instagramUserID: shop, username: "shop", token: Secret(token))
            try await seeder.setSettings(accountID: accountID, AccountSettings(cooldownSeconds: 0, humanPauseMinutes: 60))
            try await seeder.addRule(accountID: accountID, keywords: ["price", "how much"], reply: "Our prices start at 10 EUR.")

            let url = database.url + (database.url.contains("?") ? "&" : "?") + "search_path=\(database.schema)"
            let sandboxPort = try RealBinariesTests.freePort()
            let ingestPort = try RealBinariesTests.freePort()
            let dispatchPort = try RealBinariesTests.freePort()
            let sandbox = "http://127.0.0.1:\(sandboxPort)"
            let ingest = "http://127.0.0.1:\(ingestPort)"
            let common = ["DATABASE_URL": url, "HOST": "127.0.0.1", "META_APP_SECRET": secret, "META_VERIFY_TOKEN": "vt", "LOG_LEVEL": "info"]
            var processes: [ServiceProcess] = []
            processes.append(
                try ServiceProcess(
                    "flowtalk-sandbox",
                    environment: common.merging(["PORT": "\(sandboxPort)", "INGEST_URL": ingest, "SANDBOX_ACCOUNTS": "\(shop):shop:\(token)"]) { $1 }))
            processes.append(
                try ServiceProcess("flowtalk-ingest", environment: common.merging(["PORT": "\(ingestPort)"]) { $1 }.merging(ingestEnvironment) { $1 }))
            let dispatchEnvironment = common.merging(
                ["PORT": "\(dispatchPort)", "TOKEN_ENCRYPTION_KEYS": keyRing, "INSTAGRAM_GRAPH_URL": sandbox, "GRAPH_TIMEOUT_SECONDS": "3"]
            ) { $1 }.merging(dispatchEnvironment.mapValues { $0.replacingOccurrences(of: "{sandbox}", with: sandbox) }) { $1 }
            let dispatch = Dispatch {
                let running = try ServiceProcess("flowtalk-dispatch", environment: dispatchEnvironment)
                try await waitUntilReady("http://127.0.0.1:\(dispatchPort)")
                return running
            }
            try await dispatch.launch()
            let stack = Stack(database: database, client: client, sandbox: sandbox, ingest: ingest, accountID: accountID, environment: dispatchEnvironment, vault: vault)
            do {
                try await waitUntilReady(sandbox)
                try await waitUntilReady(ingest)
                try await body(stack, dispatch)
            } catch {
                for process in processes { _ = try? await process.stop() }
                await dispatch.stop()
                throw error
            }
            // (Reading the log blocks when there is nothing new, so it is read once, here.)
            let dispatchLog = dispatch.log
            #expect(!dispatchLog.contains(token), "dispatch logged the access token")
            if let key = dispatchEnvironment["GROQ_API_KEY"] { #expect(!dispatchLog.contains(key), "dispatch logged the Groq key") }
            await dispatch.stop()
            for process in processes {
                let log = process.outputSoFar
                #expect(!log.contains(token), "a log contains the access token")
                _ = try? await process.stop()
            }
        }
    }

    @Test func aMatchingDMGetsExactlyOneReplyAndEverythingElseIsRecorded() async throws {
        try await Self.withStack { stack, _ in
            // A matching DM: one reply, sent through the sandbox's Graph API.
            let first = try await Self.dm(stack, from: "cust-1", "Hi! What's the PRICE of the blue one?")
            try await eventually("reply to cust-1") { try await Self.outgoing(stack, to: "cust-1").count == 1 }
            #expect(try await Self.outgoing(stack, to: "cust-1") == ["Our prices start at 10 EUR."])
            // The sandbox records the message before it answers; dispatch marks the reply sent once the answer arrives.
            try await eventually("reply to cust-1 marked sent") { try await Self.replyStates(stack, customer: "cust-1") == ["sent"] }

            // The same webhook again (Meta redelivers): nothing new.
            let mid = try decodeJSON(SimulatedDelivery.self, from: first).mid
            _ = try await Self.dm(stack, from: "cust-1", "Hi! What's the PRICE of the blue one?", mid: mid)

            // A DM no rule answers: no reply, an activity entry with the reason.
            _ = try await Self.dm(stack, from: "cust-2", "Do you have it in green?")
            try await eventually("cust-2 recorded") { try await Self.activity(stack, customer: "cust-2").count == 1 }
            #expect(try await Self.activity(stack, customer: "cust-2").map(\.1) == ["no_rule"])

            // A message older than 24 hours: skipped.
            _ = try await Self.dm(stack, from: "cust-3", "price?", timestampMs: Int64(Date().timeIntervalSince1970 * 1000) - 25 * 3600 * 1000)
            try await eventually("cust-3 recorded") { try await Self.activity(stack, customer: "cust-3").count == 1 }
            #expect(try await Self.activity(stack, customer: "cust-3").map(\.1) == ["outside_window"])

            // A person answers from the Instagram app (an echo we did not send): the bot steps back.
            _ = try await Self.dm(stack, from: "cust-4", "I'll help you myself", echo: true)
            try await eventually("cust-4 paused") { try await Self.activity(stack, customer: "cust-4").count == 1 }
            _ = try await Self.dm(stack, from: "cust-4", "how much is it?")
            try await eventually("cust-4 second entry") { try await Self.activity(stack, customer: "cust-4").count == 2 }
            #expect(try await Self.activity(stack, customer: "cust-4").map(\.1) == ["human_reply", "human_active"])
            #expect(try await Self.outgoing(stack, to: "cust-4").count == 1)  // only the person's own message

            // A message whose sender is the business itself is never answered.
            _ = try await Self.dm(stack, from: Self.shop, "price?")
            try await eventually("self message recorded") { try await Self.activity(stack, customer: Self.shop).count == 1 }
            #expect(try await Self.activity(stack, customer: Self.shop).map(\.1) == ["from_business"])

            // Our own echo came back through ingest and triggered nothing: cust-1 still has one reply, one activity entry.
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await Self.outgoing(stack, to: "cust-1").count == 1)
            #expect(try await Self.activity(stack, customer: "cust-1").map(\.0) == ["replied"])

            // Hourly counts add up.
            var counts: [String: Int] = [:]
            for try await (metric, count) in try await stack.client.query("SELECT metric, sum(count)::int8 FROM hourly_counts GROUP BY metric")
                .decode((String, Int64).self)
            { counts[metric] = Int(count) }
            #expect(counts["received"] == 5)
            #expect(counts["replied_rule"] == 1)
            #expect(counts["skipped:no_rule"] == 1)
            #expect(counts["skipped:outside_window"] == 1)
            #expect(counts["skipped:human_active"] == 1)
            #expect(counts["skipped:from_business"] == 1)
        }
    }

    @Test func graphErrorsTakeTheirDocumentedPaths() async throws {
        try await Self.withStack { stack, _ in
            func fault(_ json: String) async throws {
                let (status, _) = try await Self.post("\(stack.sandbox)/sandbox/faults", #"{"ig_id":"\#(Self.shop)","faults":[\#(json)]}"#)
                #expect(status == .noContent)
            }
            // 500 then success: retried, one reply.
            try await fault(#"{"kind":"server_error"}"#)
            _ = try await Self.dm(stack, from: "c-500", "price please")
            try await eventually("c-500 answered after a retry") { try await Self.replyStates(stack, customer: "c-500") == ["sent"] }
            #expect(try await Self.outgoing(stack, to: "c-500").count == 1)

            // Rate limited, then success.
            try await fault(#"{"kind":"rate_limit"}"#)
            _ = try await Self.dm(stack, from: "c-429", "price please")
            try await eventually("c-429 answered after a retry") { try await Self.replyStates(stack, customer: "c-429") == ["sent"] }
            #expect(try await Self.outgoing(stack, to: "c-429").count == 1)

            // Outside the window per Instagram: final, not retried.
            try await fault(#"{"kind":"outside_window"}"#)
            _ = try await Self.dm(stack, from: "c-window", "price please")
            try await eventually("c-window failed") { try await Self.replyStates(stack, customer: "c-window") == ["failed"] }
            #expect(try await Self.activity(stack, customer: "c-window").map(\.1) == ["outside_window"])
            #expect(try await Self.outgoing(stack, to: "c-window").isEmpty)

            // No answer in time (a slow Graph API): the outcome is unknown, and it is never sent again.
            try await fault(#"{"kind":"slow","seconds":5}"#)
            _ = try await Self.dm(stack, from: "c-slow", "price please")
            try await eventually("c-slow unknown") { try await Self.replyStates(stack, customer: "c-slow") == ["unknown"] }

            // The answer is lost after Instagram delivered the message: unknown, and not sent again; then Instagram's echo
            // of that message proves it went out, so the reply is confirmed sent (not taken for a person answering).
            try await fault(#"{"kind":"drop"}"#)
            _ = try await Self.dm(stack, from: "c-drop", "price please")
            try await eventually("c-drop confirmed by its echo") {
                try await Self.activity(stack, customer: "c-drop").map(\.1) == ["no_answer", "confirmed_by_echo"]
            }
            #expect(try await Self.replyStates(stack, customer: "c-drop") == ["sent"])
            #expect(try await Self.activity(stack, customer: "c-drop").map(\.0) == ["unknown", "replied"])
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await Self.outgoing(stack, to: "c-drop").count == 1)
            // Not paused: the customer's next question is answered.
            _ = try await Self.dm(stack, from: "c-drop", "and how much is shipping?")
            try await eventually("c-drop answered again") { try await Self.replyStates(stack, customer: "c-drop") == ["sent", "sent"] }

            // An expired token: the connection needs reconnecting and nothing more is sent for it.
            try await fault(#"{"kind":"token_expired"}"#)
            _ = try await Self.dm(stack, from: "c-190", "price please")
            try await eventually("c-190 failed") { try await Self.replyStates(stack, customer: "c-190") == ["failed"] }
            var status = ""
            for try await value in try await stack.client.query("SELECT status FROM instagram_connections").decode(String.self) { status = value }
            #expect(status == "needs_reconnect")
            _ = try await Self.dm(stack, from: "c-after", "price please")
            try await eventually("c-after skipped") { try await Self.activity(stack, customer: "c-after").count == 1 }
            #expect(try await Self.activity(stack, customer: "c-after").map(\.1) == ["needs_reconnect"])
            #expect(try await Self.outgoing(stack, to: "c-after").isEmpty)
        }
    }

    @Test func killingDispatchMidSendNeverAnswersTwiceAndLosesNothing() async throws {
        try await Self.withStack(dispatchEnvironment: ["DISPATCH_LEASE_SECONDS": "5", "GRAPH_TIMEOUT_SECONDS": "20", "DISPATCH_WORKERS": "1", "DISPATCH_BATCH_SIZE": "2"]) { stack, dispatch in
            // Every send hangs for 3 s, so dispatch is killed while it holds jobs and some replies are "sending".
            let (status, _) = try await Self.post(
                "\(stack.sandbox)/sandbox/faults", #"{"ig_id":"\#(Self.shop)","faults":[{"kind":"slow","seconds":3,"count":100}]}"#)
            #expect(status == .noContent)
            let customers = (0..<8).map { "crash-\($0)" }
            for customer in customers { _ = try await Self.dm(stack, from: customer, "price?") }
            try await eventually("sends in flight") {
                var sending = 0
                for try await n in try await stack.client.query("SELECT count(*) FROM replies WHERE state = 'sending'").decode(Int.self) { sending = n }
                return sending > 0
            }
            try await dispatch.killHard()
            try await dispatch.launch()

            try await eventually("every message decided", timeout: .seconds(120)) {
                var open = 0
                for try await n in try await stack.client.query(
                    "SELECT count(*) FROM replies WHERE state IN ('sending', 'retry')"
                ).decode(Int.self) { open = n }
                var decided = 0
                for try await n in try await stack.client.query("SELECT count(*) FROM replies").decode(Int.self) { decided = n }
                return open == 0 && decided == customers.count
            }
            // Give the sandbox's slow answers time to land, then check the ground truth: never two replies.
            try await Task.sleep(for: .seconds(4))
            for customer in customers {
                let sent = try await Self.outgoing(stack, to: customer).count
                let states = try await Self.replyStates(stack, customer: customer)
                #expect(states.count == 1, "\(customer) has \(states.count) reply rows")
                #expect(sent <= 1, "\(customer) got \(sent) replies")
                if states == ["sent"] { #expect(sent == 1, "\(customer) marked sent but got \(sent)") }
                #expect(states == ["sent"] || states == ["unknown"], "\(customer) ended \(states)")
            }
            // Both paths were exercised: the sends cut off by the kill were found "sending" and made "unknown" (those whose
            // message reached Instagram are then confirmed by its echo, and were sent exactly once, checked above); the ones
            // it never started were sent once.
            var interrupted = 0
            for try await n in try await stack.client.query(
                "SELECT count(*)::int8 FROM activity WHERE reason = 'interrupted_while_sending'"
            ).decode(Int64.self) { interrupted = Int(n) }
            #expect(interrupted >= 1)
            var byState: [String: Int] = [:]
            for try await (state, n) in try await stack.client.query("SELECT state, count(*)::int8 FROM replies GROUP BY state").decode((String, Int64).self) {
                byState[state] = Int(n)
            }
            #expect((byState["sent"] ?? 0) >= 1)
        }
    }


    @Test func aRetriedReplyWhoseRuleWasRemovedMeanwhileSendsNothing() async throws {
        try await Self.withStack { stack, dispatch in
            // Instagram refuses the first sends for now, so the reply is parked for a retry; dispatch stops while it waits.
            let (status, _) = try await Self.post(
                "\(stack.sandbox)/sandbox/faults", #"{"ig_id":"\#(Self.shop)","faults":[{"kind":"server_error","count":4}]}"#)
            #expect(status == .noContent)
            _ = try await Self.dm(stack, from: "c-removed", "price please")
            try await eventually("c-removed parked for a retry") { try await Self.replyStates(stack, customer: "c-removed") == ["retry"] }
            await dispatch.stop()
            #expect(try await Self.replyStates(stack, customer: "c-removed") == ["retry"])
            // The business deletes the rule before the retry runs: the old answer is not sent.
            try await stack.client.query("DELETE FROM reply_rules WHERE account_id = \(stack.accountID)")
            try await dispatch.launch()
            try await eventually("c-removed skipped") { try await Self.replyStates(stack, customer: "c-removed") == ["skipped"] }
            #expect(try await Self.activity(stack, customer: "c-removed").map(\.1) == ["rule_removed"])
            #expect(try await Self.outgoing(stack, to: "c-removed").isEmpty)
        }
    }

    @Test func aRunThatFindsTheReplyMovedUnderItDoesNotEndTheJob() async throws {
        try await Self.withStack(dispatchEnvironment: ["DISPATCH_LEASE_SECONDS": "5", "GRAPH_TIMEOUT_SECONDS": "20"]) { stack, dispatch in
            // A send hangs (longer than this test, so no echo comes back); dispatch is killed in it, so the reply is left
            // "sending" with its job leased.
            let (status, _) = try await Self.post(
                "\(stack.sandbox)/sandbox/faults", #"{"ig_id":"\#(Self.shop)","faults":[{"kind":"slow","seconds":60}]}"#)
            #expect(status == .noContent)
            _ = try await Self.dm(stack, from: "c-moved", "price please")
            try await eventually("c-moved sending") { try await Self.replyStates(stack, customer: "c-moved") == ["sending"] }
            try await dispatch.killHard()
            // The next run's write loses once, as when another run of the job (stopped past its lease) moves the reply
            // between this run's read and its write: PostgreSQL skips the row, so the conditional update changes nothing.
            for statement in [
                "CREATE SEQUENCE lost_writes",
                """
                CREATE FUNCTION lose_first_write() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF OLD.state = 'sending' AND nextval('lost_writes') = 1 THEN RETURN NULL; END IF;
                    RETURN NEW;
                END $$
                """,
                "CREATE TRIGGER lose_first_write BEFORE UPDATE ON replies FOR EACH ROW EXECUTE FUNCTION lose_first_write()",
            ] { try await stack.client.query(PostgresQuery(unsafeSQL: statement)) }
            try await dispatch.launch()
            // The job is not ended by the run that lost: it runs again and decides from the reply as it is then.
            try await eventually("c-moved decided", timeout: .seconds(60)) { try await Self.replyStates(stack, customer: "c-moved") == ["unknown"] }
            #expect(try await Self.activity(stack, customer: "c-moved").map(\.1) == ["interrupted_while_sending"])
            var writes: Int64 = 0
            for try await n in try await stack.client.query("SELECT last_value FROM lost_writes").decode(Int64.self) { writes = n }
            #expect(writes >= 2, "the lost write was never tried again")
        }
    }


    @Test func iceBreakersAreSyncedAndATapIsAnsweredWithItsAnswer() async throws {
        try await Self.withStack { stack, _ in
            let seeder = AccountSeeder(client: stack.client, vault: stack.vault, logger: .quiet("seed"))
            try await seeder.setIceBreakers(
                accountID: stack.accountID,
                [
                    IceBreaker(position: 1, question: "What are your opening hours?", answer: "Monday to Saturday, 9:00–18:00.", payload: "IB_HOURS"),
                    IceBreaker(position: 2, question: "Where are you?", answer: "Rua Augusta 1, Lisbon.", payload: "IB_WHERE"),
                ])
            let queue = JobQueue(client: stack.client, logger: .quiet("q"))
            try await queue.enqueue([IceBreakersSyncJob.make(accountID: stack.accountID)])
            try await eventually("ice breakers pushed to Instagram") {
                let (_, body) = try await RealBinariesTests.get("\(stack.sandbox)/simulate/ice-breakers/\(Self.shop)")
                struct Profile: Decodable {
                    struct Locale: Decodable {
                        struct Action: Decodable { let payload: String }
                        let locale: String
                        let call_to_actions: [Action]
                    }
                    let ice_breakers: [Locale]
                }
                let blocks = (try? decodeJSON(Profile.self, from: body))?.ice_breakers ?? []
                return blocks.contains { $0.locale == "default" && Set($0.call_to_actions.map(\.payload)) == ["IB_HOURS", "IB_WHERE"] }
            }
            let (status, body) = try await Self.post(
                "\(stack.sandbox)/simulate/postback", #"{"ig_id":"\#(Self.shop)","from":"tapper","title":"Where are you?","payload":"IB_WHERE"}"#)
            #expect(status == .ok)
            #expect(try decodeJSON(SimulatedDelivery.self, from: body).ingest_status == 200)
            try await eventually("tap answered") { try await Self.replyStates(stack, customer: "tapper") == ["sent"] }
            #expect(try await Self.outgoing(stack, to: "tapper") == ["Rua Augusta 1, Lisbon."])
            var counts: [String: Int] = [:]
            for try await (metric, count) in try await stack.client.query("SELECT metric, sum(count)::int8 FROM hourly_counts GROUP BY metric")
                .decode((String, Int64).self)
            { counts[metric] = Int(count) }
            #expect(counts["replied_ice_breaker"] == 1)
            #expect(counts["ice_breaker:2"] == 1)
        }
    }
}

/// What the sandbox's `/simulate/dm` and `/simulate/postback` answer: the message's id and ingest's status.
struct SimulatedDelivery: Decodable {
    let mid: String
    let ingest_status: Int
}
