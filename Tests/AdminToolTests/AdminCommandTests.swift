import ArgumentParser
@testable import AdminTool
import FlowtalkContracts
import FlowtalkCore
import FlowtalkStore
import FlowtalkTesting
import Foundation
import NIOCore
import PostgresNIO
import Testing

/// Issue 14: flowtalk-admin's commands, their arguments and help, and the real binary's output and exit codes.
@Suite struct AdminCommandTests {
    @Test func argumentsParseAndHelpExplains() throws {
        let retry = try #require(try FlowtalkAdmin.parseAsRoot(["jobs", "retry-dead", "--kind", "mail.send"]) as? Jobs.RetryDead)
        #expect(retry.kind == "mail.send")
        #expect(try FlowtalkAdmin.parseAsRoot(["rotate-keys", "--batch", "50"]) is RotateKeys)
        #expect(throws: (any Error).self) { try FlowtalkAdmin.parseAsRoot(["rotate-keys", "--batch", "0"]) }
        #expect(throws: (any Error).self) { try FlowtalkAdmin.parseAsRoot(["vacuum-everything"]) }
        let help = FlowtalkAdmin.helpMessage()
        for command in ["migrate", "status", "rotate-keys", "jobs", "purge", "Exit status"] { #expect(help.contains(command), "\(command)") }
        #expect(FlowtalkAdmin.helpMessage(for: RotateKeys.self).contains("TOKEN_ENCRYPTION_KEYS"))
    }

    @Test func deadJobsAreRetriedExceptThoseWhoseMessageWasRemoved() async throws {
        try await TestDatabase.withMigrated { _, client in
            try await client.query(
                """
                INSERT INTO jobs (kind, payload, state, attempts, dead_at, last_error) VALUES
                    ('instagram.token_refresh', 'acct'::bytea, 'dead', 8, now(), 'HTTP 500'),
                    ('mail.send', 'sealed'::bytea, 'dead', 10, now(), 'smtp down'),
                    ('inbound.message', ''::bytea, 'dead', 8, now(), 'graph 500')
                """, logger: .quiet("seed"))
            let queue = JobQueue(client: client, logger: .quiet("q"))
            let status = try await StatusReport(database: Database(client), logger: .quiet("s")).lines()
            #expect(status.contains("  mail.send  1  last error: smtp down"))
            #expect(status.contains("instagram connections: 0, needing reconnect: 0"))
            #expect(try await queue.retryDead(kind: "mail.send") == (1, 0))
            #expect(try await queue.retryDead(kind: nil) == (1, 1))
            var states: [String] = []
            for try await (kind, state) in try await client.query("SELECT kind, state FROM jobs ORDER BY kind", logger: .quiet("q"))
                .decode((String, String).self) { states.append("\(kind):\(state)") }
            #expect(states == ["inbound.message:dead", "instagram.token_refresh:available", "mail.send:available"])
        }
    }

    @Test func purgeRunsEveryPurgeNow() async throws {
        try await TestDatabase.withMigrated { _, client in
            let account = UUID()
            try await client.query("INSERT INTO accounts (id, email, password_hash) VALUES (\(account), 'p@example.com', 'x')", logger: .quiet("seed"))
            try await client.query(
                "INSERT INTO activity (account_id, occurred_at, event_kind, outcome) VALUES (\(account), now() - interval '91 days', 'message', 'replied')",
                logger: .quiet("seed"))
            let purged = Dictionary(uniqueKeysWithValues: try await AdminPurge(database: Database(client), logger: .quiet("p")).run())
            #expect(purged["activity entries older than 90 days"] == 1 && purged.count == 11)
        }
    }

    /// The built binary, as an operator runs it: stdout, stderr and the exit status.
    func admin(_ arguments: [String], environment: [String: String]) throws -> (status: Int32, out: String, err: String) {
        let process = Process()
        process.executableURL = ServiceProcess.binaries.appendingPathComponent("flowtalk-admin")
        process.arguments = arguments
        process.environment = environment.merging(["FLOWTALK_ENV_FILE": "/nonexistent", "PATH": "/usr/bin:/bin"]) { a, _ in a }
        let (out, err) = (Pipe(), Pipe())
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output, errors)
    }

    @Test func theBinaryMigratesReportsAndExitsWithClearCodes() async throws {
        try await TestDatabase.withFresh { database in
            let url = database.url + (database.url.contains("?") ? "&" : "?") + "search_path=\(database.schema)"
            let env = ["DATABASE_URL": url, "FLOWTALK_ENV": "development"]
            let migrated = try admin(["migrate"], environment: env)
            #expect(migrated.status == 0 && migrated.out.contains("applied migrations 1, 2"), "\(migrated.err)")
            let again = try admin(["migrate"], environment: env)
            #expect(again.status == 0 && again.out.contains("nothing to apply"))
            let status = try admin(["status"], environment: env)
            #expect(status.status == 0 && status.out.contains("queue (kind, state, jobs, oldest due):") && status.out.contains("oldest activity entry: none"))
            let noKeys = try admin(["rotate-keys"], environment: env)
            #expect(noKeys.status == 1 && noKeys.err.contains("TOKEN_ENCRYPTION_KEYS"))
            let noDatabase = try admin(["status"], environment: ["FLOWTALK_ENV": "development"])
            #expect(noDatabase.status == 1 && noDatabase.err.contains("DATABASE_URL"))
            let usage = try admin(["jobs", "retry-dead", "--kind"], environment: env)
            #expect(usage.status == 64)
        }
    }
}
