import ArgumentParser
import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import Foundation

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the schema's missing migrations and exit (what the deployment's migration job runs).",
        discussion: """
            Safe to run while services are up and from several places at once: an advisory lock serialises runs, and a
            run that finds nothing to do exits 0. Services started with FLOWTALK_MIGRATE=false wait for this instead of
            migrating themselves.
            """)

    func run() async throws {
        try await report {
            try await AdminRuntime.withDatabase { database, _, logger in
                let applied = try await Migrator.apply(FlowtalkMigrations.all, database: database, logger: logger)
                let newest = FlowtalkMigrations.all.map(\.version).max() ?? 0
                say(applied.isEmpty ? "schema current (version \(newest)): nothing to apply" : "applied migrations \(applied.map(String.init).joined(separator: ", ")); schema at version \(newest)")
            }
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the queue by kind and state, dead jobs, connections needing reconnect and the retention purge.")

    func run() async throws {
        try await report {
            try await AdminRuntime.withDatabase { database, _, logger in
                for line in try await StatusReport(database: database, logger: logger).lines() { say(line) }
            }
        }
    }
}

struct RotateKeys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-keys",
        abstract: "Re-seal every stored token (and queued mail) with the active key of TOKEN_ENCRYPTION_KEYS.",
        discussion: """
            TOKEN_ENCRYPTION_KEYS lists id:base64key pairs, the first the active one. Add the new key first, keep the old
            ones, deploy, run this; it re-seals what is sealed with another key, page by page (resumable: a rerun skips what
            is done), and says which key ids are still in use. Remove an old key only once no longer used.
            """)

    @Option(help: "Items per page.") var batch = 200

    func validate() throws {
        guard (1...10_000).contains(batch) else { throw ValidationError("--batch must be between 1 and 10000") }
    }

    func run() async throws {
        try await report {
            try await AdminRuntime.withDatabase { database, environment, logger in
                let vault: TokenVault
                do {
                    vault = try TokenVault(keyRing: try environment.requiredSecret("TOKEN_ENCRYPTION_KEYS"))
                } catch {
                    throw AdminFailure.configuration("TOKEN_ENCRYPTION_KEYS: \(error)")
                }
                let result = try await KeyRotation(database: database, vault: vault, logger: logger, batch: batch).run(progress: say)
                for line in result.summary(vault: vault) { say(line) }
                if !result.unreadable.isEmpty { throw ExitCode(2) }
            }
        }
    }
}

struct Jobs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Act on queued jobs.", subcommands: [RetryDead.self])

    struct RetryDead: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "retry-dead",
            abstract: "Put dead jobs back in the queue, due now, with their attempts reset.",
            discussion: "A dead job carrying a customer's message had its text removed when it died: it cannot run again and stays.")

        @Option(help: "Only jobs of this kind (e.g. instagram.token_refresh, mail.send).") var kind: String?

        func run() async throws {
            try await report {
                try await AdminRuntime.withDatabase { database, _, logger in
                    let (retried, emptied) = try await JobQueue(client: database, logger: logger).retryDead(kind: kind)
                    say("retried \(retried) dead job(s)\(kind.map { " of kind \($0)" } ?? "")")
                    if emptied > 0 { say("left \(emptied) dead inbound job(s): their message text was removed when they died, so they cannot run again") }
                }
            }
        }
    }
}

struct Purge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the retention and upkeep purges now (the services run them hourly).")

    func run() async throws {
        try await report {
            try await AdminRuntime.withDatabase { database, _, logger in
                for (what, count) in try await AdminPurge(database: database, logger: logger).run() { say("\(what): \(count) deleted") }
            }
        }
    }
}
