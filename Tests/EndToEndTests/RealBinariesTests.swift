import AsyncHTTPClient
import FlowtalkCore
import FlowtalkStore
import FlowtalkTesting
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import Testing

/// Drives the built executables (`swift build` puts them in `.build/debug`), as an operator would.
@Suite(.serialized) struct RealBinariesTests {
    static func freePort() throws -> Int { try PrivateCluster.freePort() }

    static func get(_ url: String) async throws -> (HTTPResponseStatus, String) {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
        return (response.status, String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    @Test func allFourServicesStartBecomeReadyTakeAWebhookAndStopOnSIGTERM() async throws {
        try await TestDatabase.withFresh { database in
            let url = database.url + (database.url.contains("?") ? "&" : "?") + "search_path=\(database.schema)"
            let secret = "e2e-secret"
            var ports: [String: Int] = [:]
            var running: [String: ServiceProcess] = [:]
            for name in ["flowtalk-auth", "flowtalk-ingest", "flowtalk-dispatch", "flowtalk-analytics"] {
                let port = try Self.freePort()
                ports[name] = port
                running[name] = try ServiceProcess(
                    name,
                    environment: [
                        "DATABASE_URL": url, "HOST": "127.0.0.1", "PORT": "\(port)", "META_APP_SECRET": secret, "META_VERIFY_TOKEN": "vt",
                        "TOKEN_ENCRYPTION_KEYS": TokenVault.testing().keyRing, "PASSWORD_PEPPER": "e2e-pepper", "META_APP_ID": "e2e-app",
                        // Development: auth's mail goes to the sandbox catcher's default address (no mail is sent here).
                        "LOG_LEVEL": "info", "FLOWTALK_ENV": "development",
                    ])
            }
            var stopped = false
            defer { if !stopped { for process in running.values { kill(process.pid, SIGTERM) } } }

            for (name, port) in ports {
                try await waitUntilReady("http://127.0.0.1:\(port)")
                let (metricsStatus, _) = try await Self.get("http://127.0.0.1:\(port)/metrics")
                #expect(metricsStatus == .ok, "\(name) /metrics")
            }

            var request = HTTPClientRequest(url: "http://127.0.0.1:\(ports["flowtalk-ingest"]!)/webhooks/instagram")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "X-Hub-Signature-256", value: WebhookSignatureVerifier.sign(body: Array(Fixtures.f1.utf8), secret: secret))
            request.body = .bytes(ByteBuffer(string: Fixtures.f1))
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            #expect(response.status == .ok)

            let queued = try await database.withClient(logger: .quiet("db")) { client in
                var kinds: [String] = []
                for try await kind in try await client.query("SELECT kind FROM jobs WHERE kind LIKE 'inbound.%'").decode(String.self) {
                    kinds.append(kind)
                }
                return kinds
            }
            // Dispatch may already have handled it (the account is unknown, so it is dropped); either way it was queued once.
            #expect(queued.count <= 1)
            let handled = try await database.withClient(logger: .quiet("db")) { client in
                var n = 0
                // (Analytics and auth queue their hourly purges with dedupe keys of their own.)
                for try await count in try await client.query(
                    "SELECT count(*) FROM job_dedupe WHERE key NOT LIKE 'retention:%' AND key NOT LIKE 'auth_purge:%'").decode(Int.self) {
                    n = count
                }
                return n
            }
            #expect(handled == 1)

            for (name, process) in running {
                let status = try await process.stop()
                #expect(status == 0, "\(name) exit status after SIGTERM")
                let log = process.output
                #expect(!log.contains(secret), "\(name) logged the secret")
                #expect(!log.contains("\"OI\""), "\(name) logged message text")
            }
            stopped = true
        }
    }

    @Test func aMissingSecretStopsTheServiceWithOneClearLine() async throws {
        let process = try ServiceProcess("flowtalk-ingest", environment: ["DATABASE_URL": "postgres://u@127.0.0.1:1/db", "META_VERIFY_TOKEN": "x"])
        let status = try await process.exitStatus()
        let output = process.output
        #expect(status == 1)
        #expect(output == "flowtalk-ingest: configuration error: missing required environment variable META_APP_SECRET\n")
    }

    /// A port another process listens on (CI once picked a port an outgoing connection took a moment later): every
    /// service exits with status 1 and one line naming the address, instead of living on and never becoming ready
    /// (ingest used to: its enqueuer waited for a graceful shutdown that a failed start never sends).
    @Test(arguments: ["flowtalk-auth", "flowtalk-ingest", "flowtalk-dispatch", "flowtalk-analytics", "flowtalk-sandbox"])
    func aServiceWhosePortIsTakenExitsNamingTheAddress(_ name: String) async throws {
        let holder = try PortHolder()
        defer { holder.close() }
        let process = try ServiceProcess(name, environment: [
            "DATABASE_URL": "postgres://u@127.0.0.1:1/db", "HOST": "127.0.0.1", "PORT": "\(holder.port)", "META_APP_SECRET": "s",
            "META_VERIFY_TOKEN": "vt", "TOKEN_ENCRYPTION_KEYS": TokenVault.testing().keyRing, "PASSWORD_PEPPER": "p", "META_APP_ID": "a",
            "LOG_LEVEL": "error", "FLOWTALK_ENV": "development", "SANDBOX_SMTP_PORT": "0",
        ])
        // A liveness bound, not a timing goal: a process still running after a minute has hung.
        let exited = try await process.waitForExit(timeout: .seconds(60))
        if !exited { try await process.killHard() }
        let output = process.output
        #expect(exited, "\(name) still running a minute after it could not listen")
        #expect(try await process.exitStatus() == 1)
        #expect(output.hasSuffix("\(name): cannot listen on 127.0.0.1:\(holder.port): Address already in use (errno 98); set HOST or PORT, or stop what uses it\n"), "\(output)")
    }

    /// Outside development (FLOWTALK_ENV unset is production) a plain-http PUBLIC_URL stops auth at start.
    @Test func productionAuthRefusesAPlainHTTPPublicURL() async throws {
        let process = try ServiceProcess("flowtalk-auth", environment: [
            "FLOWTALK_ENV": "production", "DATABASE_URL": "postgres://u@127.0.0.1:1/db", "PUBLIC_URL": "http://app.example.com",
            "ANALYTICS_URL": "https://stats.example.com", "TRUSTED_PROXIES": "10.0.0.0/8", "META_APP_SECRET": "s",
            "TOKEN_ENCRYPTION_KEYS": TokenVault.testing().keyRing, "PASSWORD_PEPPER": "p", "META_APP_ID": "a",
        ])
        let status = try await process.exitStatus()
        let output = process.output
        #expect(status == 1)
        #expect(output == "flowtalk-auth: configuration error: environment variable PUBLIC_URL is malformed: must be an https:// URL unless FLOWTALK_ENV=development\n")
    }

    @Test func aMalformedDatabaseURLIsNamedWithoutItsPassword() async throws {
        let process = try ServiceProcess("flowtalk-dispatch", environment: ["DATABASE_URL": "mysql://root:hunter2@db/x"])
        let status = try await process.exitStatus()
        let output = process.output
        #expect(status == 1)
        #expect(output.hasPrefix("flowtalk-dispatch: configuration error: environment variable DATABASE_URL is malformed"))
        #expect(!output.contains("hunter2"))
        #expect(output.split(separator: "\n").count == 1)
    }
}

/// A socket listening on a free loopback port, as another program would.
final class PortHolder: @unchecked Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        port = try PrivateCluster.freePort()
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 1) == 0 else { Foundation.close(fd); throw CocoaError(.fileWriteUnknown) }
    }

    func close() { Foundation.close(fd) }
}
