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
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let binaries = root.appendingPathComponent(".build/debug")

    static func freePort() throws -> Int { try PrivateCluster.freePort() }

    final class Running: @unchecked Sendable {
        let process: Process
        let stderr: Pipe
        init(process: Process, stderr: Pipe) {
            self.process = process
            self.stderr = stderr
        }
    }

    static func start(_ name: String, environment: [String: String]) throws -> Running {
        let process = Process()
        process.executableURL = binaries.appendingPathComponent(name)
        // A clean environment: only what the test sets, so nothing from the developer's shell or a .env leaks in.
        process.environment = environment.merging(["FLOWTALK_ENV_FILE": "/nonexistent", "PATH": "/usr/bin:/bin"]) { a, _ in a }
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return Running(process: process, stderr: stderr)
    }

    static func stop(_ running: Running) async throws -> Int32 {
        running.process.terminate()  // SIGTERM
        for _ in 0..<200 where running.process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        if running.process.isRunning { kill(running.process.processIdentifier, SIGKILL) }
        running.process.waitUntilExit()
        return running.process.terminationStatus
    }

    static func get(_ url: String) async throws -> (HTTPResponseStatus, String) {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
        return (response.status, String(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    @Test func allFourServicesStartBecomeReadyTakeAWebhookAndStopOnSIGTERM() async throws {
        try await TestDatabase.withFresh { database in
            let url = database.url + (database.url.contains("?") ? "&" : "?") + "search_path=\(database.schema)"
            let secret = "e2e-secret"
            var ports: [String: Int] = [:]
            var running: [String: Running] = [:]
            for name in ["flowtalk-auth", "flowtalk-ingest", "flowtalk-dispatch", "flowtalk-analytics"] {
                let port = try Self.freePort()
                ports[name] = port
                running[name] = try Self.start(
                    name,
                    environment: [
                        "DATABASE_URL": url, "HOST": "127.0.0.1", "PORT": "\(port)", "META_APP_SECRET": secret, "META_VERIFY_TOKEN": "vt",
                        "TOKEN_ENCRYPTION_KEYS": TokenVault.testing().keyRing, "PASSWORD_PEPPER": "e2e-pepper", "META_APP_ID": "e2e-app",
                        "LOG_LEVEL": "info",
                    ])
            }
            var stopped = false
            defer { if !stopped { for process in running.values { process.process.terminate() } } }

            for (name, port) in ports {
                var status = HTTPResponseStatus.serviceUnavailable
                for _ in 0..<600 {
                    status = (try? await Self.get("http://127.0.0.1:\(port)/readyz").0) ?? .serviceUnavailable
                    if status == .ok { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(status == .ok, "\(name) /readyz")
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
                // (Analytics queues its hourly retention purge with a dedupe key of its own.)
                for try await count in try await client.query("SELECT count(*) FROM job_dedupe WHERE key NOT LIKE 'retention:%'").decode(Int.self) {
                    n = count
                }
                return n
            }
            #expect(handled == 1)

            for (name, process) in running {
                let status = try await Self.stop(process)
                #expect(status == 0, "\(name) exit status after SIGTERM")
                let log = String(decoding: process.stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                #expect(!log.contains(secret), "\(name) logged the secret")
                #expect(!log.contains("\"OI\""), "\(name) logged message text")
            }
            stopped = true
        }
    }

    @Test func aMissingSecretStopsTheServiceWithOneClearLine() async throws {
        let process = try Self.start("flowtalk-ingest", environment: ["DATABASE_URL": "postgres://u@127.0.0.1:1/db", "META_VERIFY_TOKEN": "x"])
        process.process.waitUntilExit()
        let output = String(decoding: process.stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.process.terminationStatus == 1)
        #expect(output == "flowtalk-ingest: configuration error: missing required environment variable META_APP_SECRET\n")
    }

    /// A port another process listens on (CI once picked a port an outgoing connection took a moment later): every
    /// service exits with status 1 and one line naming the address, instead of living on and never becoming ready
    /// (ingest used to: its enqueuer waited for a graceful shutdown that a failed start never sends).
    @Test(arguments: ["flowtalk-auth", "flowtalk-ingest", "flowtalk-dispatch", "flowtalk-analytics", "flowtalk-sandbox"])
    func aServiceWhosePortIsTakenExitsNamingTheAddress(_ name: String) async throws {
        let holder = try PortHolder()
        defer { holder.close() }
        let process = try Self.start(name, environment: [
            "DATABASE_URL": "postgres://u@127.0.0.1:1/db", "HOST": "127.0.0.1", "PORT": "\(holder.port)", "META_APP_SECRET": "s",
            "META_VERIFY_TOKEN": "vt", "TOKEN_ENCRYPTION_KEYS": TokenVault.testing().keyRing, "PASSWORD_PEPPER": "p", "META_APP_ID": "a",
            "LOG_LEVEL": "error",
        ])
        // A liveness bound, not a timing goal: a process still running after a minute has hung.
        for _ in 0..<1_200 where process.process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
        let exited = !process.process.isRunning
        if !exited { kill(process.process.processIdentifier, SIGKILL) }
        process.process.waitUntilExit()
        let output = String(decoding: process.stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(exited, "\(name) still running a minute after it could not listen")
        #expect(process.process.terminationStatus == 1)
        #expect(output.hasSuffix("\(name): cannot listen on 127.0.0.1:\(holder.port): Address already in use (errno 98); set HOST or PORT, or stop what uses it\n"), "\(output)")
    }

    @Test func aMalformedDatabaseURLIsNamedWithoutItsPassword() async throws {
        let process = try Self.start("flowtalk-dispatch", environment: ["DATABASE_URL": "mysql://root:hunter2@db/x"])
        process.process.waitUntilExit()
        let output = String(decoding: process.stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.process.terminationStatus == 1)
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
