import FlowtalkStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresNIO
import Prometheus

/// `/healthz`, `/readyz` and `/metrics`, which every service serves.
package struct HealthRoutes<Context: RequestContext>: Sendable {
    let client: Database
    let gate: SchemaGate
    let registry: PrometheusCollectorRegistry

    package init(database: Database, gate: SchemaGate, registry: PrometheusCollectorRegistry) {
        self.client = database
        self.gate = gate
        self.registry = registry
    }

    package func add(to router: Router<Context>) {
        router.get("/healthz") { _, _ in Self.status(.ok, "ok") }
        router.get("/readyz") { _, context in
            guard gate.isOpen else { return Self.status(.serviceUnavailable, "migrating") }
            do {
                // Bounded: a hung database must not hang the probe.
                try await client.query("SELECT 1", logger: context.logger, timeout: .seconds(2))
                return Self.status(.ok, "ready")
            } catch {
                return Self.status(.serviceUnavailable, "database_unreachable")
            }
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }

    /// `{"status": word}` with the HTTP status.
    package static func status(_ status: HTTPResponse.Status, _ word: String) -> Response {
        // One string: encoding cannot fail.
        (try? JSONResponse.make(["status": word], status: status)) ?? Response(status: status)
    }
}
