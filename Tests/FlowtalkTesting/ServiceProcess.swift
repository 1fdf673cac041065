import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import Foundation

/// One of the built executables (`.build/debug/<name>`), running as an operator would start it. The one way tests
/// start, stop and kill the real binaries (`scripts/chaos.py` is the same for the fault-injection run).
package final class ServiceProcess: @unchecked Sendable {
    package static let binaries = PrivateCluster.root.appendingPathComponent(".build/debug")

    package let name: String
    private let process: Process
    private let stderr: Pipe

    /// Starts `name` with `environment` only (no env file, a minimal `PATH`): nothing from the developer's shell or a
    /// `.env` leaks in. `FLOWTALK_ENV` is `development` (plain HTTP on loopback) unless `environment` says otherwise.
    /// Standard error is kept for `output`; standard output is dropped.
    package init(_ name: String, environment: [String: String]) throws {
        self.name = name
        process = Process()
        process.executableURL = Self.binaries.appendingPathComponent(name)
        process.environment = environment.merging(["FLOWTALK_ENV": "development", "FLOWTALK_ENV_FILE": "/nonexistent", "PATH": "/usr/bin:/bin"]) { a, _ in a }
        stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    package var isRunning: Bool { process.isRunning }
    package var pid: Int32 { process.processIdentifier }

    /// Waits up to `timeout` for the process to exit on its own; true when it did. A liveness bound, not a timing goal.
    package func waitForExit(timeout: Duration = .seconds(60)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        // Polled: Foundation's waitUntilExit can miss the exit of a child that was started from a concurrency thread.
        while process.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        return !process.isRunning
    }

    /// The exit status once it has exited on its own (SIGKILL after a minute: a process that should have exited hung).
    /// Polled, never `waitUntilExit`, which can miss the exit of a child started from a concurrency thread and wait for ever.
    package func exitStatus() async throws -> Int32 {
        if try await !waitForExit(timeout: .seconds(60)) { try await killHard() }
        return try finishedStatus()
    }

    /// Foundation traps on the status of a process it still counts as running: a test fails instead.
    private func finishedStatus() throws -> Int32 {
        guard !process.isRunning else { throw StillRunning(name: name) }
        return process.terminationStatus
    }

    package struct StillRunning: Error, CustomStringConvertible {
        let name: String
        package var description: String { "\(name) is still running after SIGKILL" }
    }

    /// SIGTERM (a graceful shutdown), SIGKILL if it is still running 10 s later; the exit status.
    @discardableResult
    package func stop() async throws -> Int32 {
        if process.isRunning { process.terminate() }
        if try await !waitForExit(timeout: .seconds(10)) { try await killHard() }
        return try finishedStatus()
    }

    /// SIGKILL: no graceful shutdown; leases and half-done work are left as they are.
    package func killHard() async throws {
        kill(process.processIdentifier, SIGKILL)
        _ = try await waitForExit(timeout: .seconds(10))
    }

    /// All it wrote to standard error; only once it has exited (reading waits for the end of the stream).
    package var output: String { String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }

    /// What it wrote to standard error and was not read yet; blocks while it has written nothing new, so read it once.
    package var outputSoFar: String { String(decoding: stderr.fileHandleForReading.availableData, as: UTF8.self) }
}

/// Waits until a service at `base` (`http://host:port`) answers `/readyz` with 200; throws `Timeout` otherwise. Generous,
/// like the in-process wait: under load migrations can take a while.
package func waitUntilReady(_ base: String, timeout: Duration = .seconds(120)) async throws {
    try await eventually("\(base) to be ready", timeout: timeout) {
        try await HTTPClient.shared.execute(HTTPClientRequest(url: "\(base)/readyz"), timeout: .seconds(5)).status == .ok
    }
}
