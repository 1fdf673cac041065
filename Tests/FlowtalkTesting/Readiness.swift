import HTTPTypes
import HummingbirdTesting

/// Waits until an in-process service answers `/readyz` with 200 (migrations applied, database reachable); throws
/// `Timeout` otherwise. Generous: under load (CI builds on two cores) migrations can take a while.
package func waitUntilReady(_ client: some TestClientProtocol) async throws {
    try await eventually("/readyz to answer 200", timeout: .seconds(60)) { try await client.execute(uri: "/readyz", method: .get).status == .ok }
}
