import Foundation
import Hummingbird
import NIOCore

/// The service could not listen on its address (taken by another process, not on this host, or a privileged port).
package struct ListenFailure: Error, CustomStringConvertible {
    package let host: String
    package let port: Int
    /// The system's words: "Address already in use (errno 98)".
    package let reason: String

    package init(host: String, port: Int, reason: String) {
        self.host = host
        self.port = port
        self.reason = reason
    }

    package var description: String { "cannot listen on \(host):\(port): \(reason); set HOST or PORT, or stop what uses it" }
}

extension ApplicationProtocol {
    /// Runs the service until it is stopped. A failure to bind is reported with the address it tried, and the whole
    /// service stops at once (every other part of it ends on the cancellation that follows), so a supervisor sees an
    /// exit with a reason instead of a process that never becomes ready.
    package func runService(listeningOn host: String, port: Int) async throws {
        do {
            try await runService()
        } catch let error as IOError where error.description.hasPrefix("bind") {
            throw ListenFailure(host: host, port: port, reason: "\(String(cString: strerror(error.errnoCode))) (errno \(error.errnoCode))")
        }
    }
}
