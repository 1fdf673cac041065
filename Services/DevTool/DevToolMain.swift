import AsyncHTTPClient
import FlowtalkCore
import FlowtalkDevSupport
import FlowtalkStore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO

/// flowtalk-dev: development helpers for `make run` and `make demo` (never deployed).
///   flowtalk-dev seed-demo          create the demo shop (account, sandbox connection, rules) if it does not exist, and
///                                   give it the sign-in demo@flowtalk.local / DEMO_PASSWORD (from .env)
///   flowtalk-dev connect-sandbox email   connect the sandbox's @curl_shop to that account (the README's curl walkthrough)
///   flowtalk-dev dm "text" [from]   send a DM as a customer through the sandbox and print the bot's answer
///   flowtalk-dev bench-latency [rate] [seconds]   DMs at a fixed rate; prints webhook→reply latency p50/p99
///   flowtalk-dev seed-chaos [ig_id]  the shop of `make chaos` (scripts/chaos.py), in a fresh database
///   flowtalk-dev migrate            apply the migrations (scripts that measure the schema)
@main struct DevToolMain {
    static let demoInstagramID = "17841400000000042"
    static let demoEmail = "demo@flowtalk.local"

    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        let environment = ConfigEnvironment.load()
        do {
            switch arguments.first {
            case "seed-demo": try await seedDemo(environment)
            case "migrate": try await migrate(environment)
            case "connect-sandbox": try await connectSandbox(environment, email: arguments.dropFirst().first ?? "")
            case "seed-chaos": try await seedChaos(environment, instagramID: arguments.dropFirst().first ?? "17841400000000077")
            case "dm": try await dm(environment, text: arguments.dropFirst().first ?? "Hi! What's the price?", from: arguments.dropFirst(2).first)
            case "bench-latency":
                let rate = arguments.dropFirst().first.flatMap(Int.init) ?? 50
                let seconds = arguments.dropFirst(2).first.flatMap(Int.init) ?? 10
                try await benchLatency(environment, rate: rate, seconds: seconds)
            default:
                FileHandle.standardError.write(Data("usage: flowtalk-dev seed-demo | migrate | connect-sandbox email | seed-chaos [ig_id] | dm \"text\" [customer-id] | bench-latency [rate] [seconds]\n".utf8))
                exit(2)
            }
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("flowtalk-dev: configuration error: \(error)\n".utf8))
            exit(1)
        } catch {
            FileHandle.standardError.write(Data("flowtalk-dev: \(error)\n".utf8))
            exit(1)
        }
    }

    static let logger = Logger(label: "flowtalk-dev", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Runs `body` with a running client for `DATABASE_URL`, its migrations applied first.
    static func withMigratedClient(_ environment: ConfigEnvironment, _ body: (PostgresClient) async throws -> Void) async throws {
        let database = try DatabaseURL.configuration(
            try environment.requiredSecret("DATABASE_URL"), maximumConnections: 2, mode: try environment.deploymentMode())
        let client = PostgresClient(configuration: database, backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await Migrator.apply(FlowtalkMigrations.all, client: client, logger: logger)
            try await body(client)
        }
    }

    static func migrate(_ environment: ConfigEnvironment) async throws {
        try await withMigratedClient(environment) { _ in print("migrations applied") }
    }

    static func seedDemo(_ environment: ConfigEnvironment) async throws {
        let vault = try TokenVault(keyRing: try environment.requiredSecret("TOKEN_ENCRYPTION_KEYS"))
        let token = try environment.requiredSecret("SANDBOX_DEMO_TOKEN")
        try await withMigratedClient(environment) { client in
            if try await ConnectionStore(client: Database(client), logger: logger).connection(instagramUserID: demoInstagramID) != nil {
                print("demo shop already seeded (Instagram id \(demoInstagramID))")
                try await setDemoLogin(environment, client: client)
                return
            }
            let seeder = AccountSeeder(client: client, vault: vault, logger: logger)
            let account = try await seeder.createAccount(email: demoEmail, instagramUserID: demoInstagramID, username: "demo_shop", token: token)
            try await seeder.setSettings(accountID: account, AccountSettings(
                    cooldownSeconds: 3, humanPauseMinutes: 30, aiEnabled: true,
                    businessDescription: "Demo Shop sells handmade ceramics (mugs, bowls, plates) online and in a small studio shop.",
                    aiTone: "friendly, short", fallbackText: "Thanks for your message! Someone from our team will answer soon."))
            try await seeder.addRule(
                accountID: account, keywords: ["price", "how much", "cost"], reply: "Our prices start at €10. Which product are you interested in?")
            try await seeder.addRule(accountID: account, keywords: ["opening hours", "open", "hours"], reply: "We're open Monday to Saturday, 9:00–18:00.")
            try await seeder.addRule(
                accountID: account, keywords: ["shipping", "delivery", "deliver"], negativeKeywords: ["international"],
                reply: "We ship within 2–3 business days.")
            print("seeded the demo shop @demo_shop (Instagram id \(demoInstagramID)) with 3 rules")
            try await setDemoLogin(environment, client: client)
        }
    }

    /// The shop `make chaos` writes to: one rule that answers every message holding "order" (what the load sends mostly),
    /// AI on for the rest with a fallback text, no cooldown and no human pause (a customer's two messages both get an
    /// answer), and an AI budget the run cannot use up. Only through the store's functions: no SQL here.
    static func seedChaos(_ environment: ConfigEnvironment, instagramID: String) async throws {
        let vault = try TokenVault(keyRing: try environment.requiredSecret("TOKEN_ENCRYPTION_KEYS"))
        let token = try environment.requiredSecret("SANDBOX_DEMO_TOKEN")
        try await withMigratedClient(environment) { client in
            let seeder = AccountSeeder(client: client, vault: vault, logger: logger)
            let account = try await seeder.createAccount(
                email: "chaos-\(instagramID)@flowtalk.local", instagramUserID: instagramID, username: "chaos_shop", token: token)
            try await seeder.setSettings(
                accountID: account,
                AccountSettings(
                    cooldownSeconds: 0, humanPauseMinutes: 0, aiEnabled: true, businessDescription: "Chaos Shop sells mugs and bowls.",
                    aiTone: "short", fallbackText: "Thanks! A person will answer soon.", aiDailyBudget: 100_000))
            try await seeder.addRule(accountID: account, keywords: ["order"], reply: "Your order is on its way.")
            print("seeded the chaos shop @chaos_shop (Instagram id \(instagramID))")
        }
    }

    /// Sends DMs to the demo shop at a fixed rate, each from a new customer and matching a rule, then reads the latency
    /// dispatch recorded for each reply (ingest's receipt of the webhook → the Graph API's answer to the send).
    static func benchLatency(_ environment: ConfigEnvironment, rate: Int, seconds: Int) async throws {
        let sandbox = try environment.url("SANDBOX_URL", default: "http://127.0.0.1:8090")
        let run = UUID().uuidString.prefix(8).lowercased()
        let total = rate * seconds
        let clock = ContinuousClock()
        let start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<total {
                try await clock.sleep(until: start + .nanoseconds(Int64(index) * 1_000_000_000 / Int64(rate)))
                group.addTask {
                    var request = HTTPClientRequest(url: "\(sandbox)/simulate/dm")
                    request.method = .POST
                    request.headers.add(name: "Content-Type", value: "application/json")
                    request.body = .bytes(ByteBuffer(string: #"{"ig_id":"\#(demoInstagramID)","from":"bench-\#(run)-\#(index)","text":"Hi, what's the price?"}"#))
                    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                    _ = try await response.body.collect(upTo: 1 << 16)
                }
            }
            try await group.waitForAll()
        }
        try await withMigratedClient(environment) { client in
            let analytics = ActivityStore(client: client, logger: logger)
            let prefix = "bench-\(run)-"
            var replied = 0
            let deadline = clock.now + .seconds(120)
            while clock.now < deadline {
                replied = try await analytics.decidedCount(customerIDPrefix: prefix)
                if replied >= total { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            do {
                let (count, p50, p99, maximum) = try await analytics.replyLatency(customerIDPrefix: prefix)
                print("webhook→reply latency at \(rate) DMs/s for \(seconds) s: \(count) of \(total) answered; p50 \(Int(p50 ?? 0)) ms, p99 \(Int(p99 ?? 0)) ms, max \(maximum ?? 0) ms")
            }
        }
    }

    static func dm(_ environment: ConfigEnvironment, text: String, from: String?) async throws {
        let sandbox = try environment.url("SANDBOX_URL", default: "http://127.0.0.1:8090")
        let customer = from ?? "demo-customer-\(Int.random(in: 1000...9999))"
        var body: [UInt8] = Array(#"{"ig_id":"\#(demoInstagramID)","from":"#.utf8)
        JSONText.appendString(customer, to: &body)
        body += Array(#","text":"#.utf8)
        JSONText.appendString(text, to: &body)
        body += Array("}".utf8)
        var request = HTTPClientRequest(url: "\(sandbox)/simulate/dm")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let answer = String(buffer: try await response.body.collect(upTo: 1 << 16))
        guard response.status == .ok, answer.contains(#""ingest_status":200"#) else {
            print("the sandbox could not deliver the DM (is make run running?): \(answer)")
            exit(1)
        }
        print("customer \(customer): \(text)")
        struct Conversation: Decodable {
            struct Message: Decodable {
                let direction: String
                let customer_id: String
                let text: String
            }
            let messages: [Message]
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "\(sandbox)/simulate/conversations/\(demoInstagramID)"), timeout: .seconds(5))
            let data = Data((try await response.body.collect(upTo: 1 << 22)).readableBytesView)
            let conversation = try JSONDecoder().decode(Conversation.self, from: data)
            if let reply = conversation.messages.first(where: { $0.direction == "out" && $0.customer_id == customer }) {
                print("@demo_shop (bot): \(reply.text)")
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        print("no answer within 10 s: no rule matched, or see why on the dashboard's Activity page")
    }
}
