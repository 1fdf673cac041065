import Foundation

/// A throwaway self-signed certificate for `localhost` and 127.0.0.1 (PEM files in a temporary directory), made with
/// `openssl req`, for tests of direct TLS.
package struct SelfSignedCertificate: Sendable {
    package let directory: String
    /// The certificate's PEM file: also the one root a client must trust.
    package var certificate: String { directory + "/cert.pem" }
    /// The private key's PEM file.
    package var key: String { directory + "/key.pem" }

    package static func make() async throws -> SelfSignedCertificate {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flowtalk-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let pair = SelfSignedCertificate(directory: directory)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", pair.key, "-out", pair.certificate,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Polled, as ServiceProcess does: waitUntilExit can miss the exit of a child started from a concurrency thread.
        for _ in 0..<1_500 where process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        guard !process.isRunning else {
            process.terminate()
            throw OpenSSLFailed(status: -1)
        }
        guard process.terminationStatus == 0 else { throw OpenSSLFailed(status: process.terminationStatus) }
        return pair
    }

    package func remove() { try? FileManager.default.removeItem(atPath: directory) }

    package struct OpenSSLFailed: Error { let status: Int32 }
}
