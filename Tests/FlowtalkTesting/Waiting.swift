import Foundation

/// What an `eventually` waited for and never saw.
package struct Timeout: Error, CustomStringConvertible {
    package let what: String
    package let lastError: String?
    package var description: String { "timed out waiting for \(what)" + (lastError.map { " (last error: \($0))" } ?? "") }
}

/// Polls `condition` until it holds; throws `Timeout` when it still does not after `timeout`. An error thrown by the
/// condition counts as "not yet" (a service restarting refuses connections), and is named if it was the last word.
/// A wait for something to happen, never a timing assertion: the limits are generous so a loaded machine passes.
package func eventually(
    _ what: String = "the condition", timeout: Duration = .seconds(40), every: Duration = .milliseconds(50), _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    var lastError: (any Error)?
    repeat {
        do {
            if try await condition() { return }
            lastError = nil
        } catch {
            lastError = error
        }
        try await Task.sleep(for: every)
    } while ContinuousClock.now < deadline
    throw Timeout(what: what, lastError: lastError.map { String(describing: type(of: $0)) })
}
