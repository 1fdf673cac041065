import FlowtalkCore
import FlowtalkStore
import Foundation
import Logging
import PostgresNIO

/// A PostgreSQL cluster of a test's own (`scripts/pg.sh`), which the test may crash and start again without touching
/// the shared test database.
package final class PrivateCluster: Sendable {
    package static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    package let directory: String
    package let port: Int
    package let url: String

    private init(directory: String, port: Int, url: String) {
        self.directory = directory
        self.port = port
        self.url = url
    }

    /// Starts a fresh cluster in a temporary directory; `options` are extra server settings (`-c name=value`).
    package static func start(options: [String] = ["-c", "fsync=off"]) throws -> PrivateCluster {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flowtalk-cluster-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let port = try freePort()
        let url = try pg(["start", directory + "/pg", "\(port)"] + options).trimmingCharacters(in: .whitespacesAndNewlines)
        return PrivateCluster(directory: directory, port: port, url: url)
    }

    /// The client configuration for this cluster.
    package func configuration(maximumConnections: Int = 10) throws -> PostgresClient.Configuration {
        var configuration = try DatabaseURL.configuration(Secret(url), maximumConnections: maximumConnections)
        configuration.options.connectTimeout = .seconds(2)
        return configuration
    }

    /// An immediate shutdown, as in a crash: every connection is cut, nothing in flight commits.
    package func crash() throws { _ = try Self.pg(["kill", directory + "/pg"]) }

    /// Starts the cluster again after `crash`.
    package func restart() throws { _ = try Self.pg(["start", directory + "/pg", "\(port)", "-c", "fsync=off"]) }

    /// Stops the cluster and removes its files.
    package func remove() {
        _ = try? Self.pg(["stop", directory + "/pg"])
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs `body` with a running cluster, removed afterwards whatever happened.
    package static func with<T: Sendable>(_ body: @Sendable (PrivateCluster) async throws -> T) async throws -> T {
        let cluster = try start()
        defer { cluster.remove() }
        return try await body(cluster)
    }

    @discardableResult
    static func pg(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [root.appendingPathComponent("scripts/pg.sh").path] + arguments
        // A file, not a pipe: the server that `start` leaves running would hold a pipe open, and reading it never ends.
        let outputPath = FileManager.default.temporaryDirectory.appendingPathComponent("pg-\(UUID().uuidString).out").path
        FileManager.default.createFile(atPath: outputPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Polled: Foundation's waitUntilExit can miss the exit of a child that was started from a concurrency thread.
        var status: Int32 = 0
        while waitpid(process.processIdentifier, &status, WNOHANG) == 0 { usleep(20_000) }
        try? output.close()
        let data = FileManager.default.contents(atPath: outputPath) ?? Data()
        // WEXITSTATUS, for a child that exited normally.
        let exitStatus = (status >> 8) & 0xff
        guard exitStatus == 0 else { throw PrivateClusterError.command(arguments.first ?? "", exitStatus) }
        return String(decoding: data, as: UTF8.self)
    }

    /// A port nobody listens on now, outside the kernel's ephemeral range (`FreePorts`).
    package static func freePort() throws -> Int { try FreePorts.next() }
}

package enum PrivateClusterError: Error, CustomStringConvertible {
    case command(String, Int32)
    package var description: String {
        switch self {
        case .command(let name, let status): "scripts/pg.sh \(name) failed with status \(status)"
        }
    }
}

