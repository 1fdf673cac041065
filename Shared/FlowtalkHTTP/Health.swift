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
        router.get("/healthz") { _, _ in Self.json(.ok, #"{"status":"ok"}"#) }
        router.get("/readyz") { _, context in
            guard gate.isOpen else { return Self.json(.serviceUnavailable, #"{"status":"migrating"}"#) }
            do {
                // Bounded: a hung database must not hang the probe.
                try await client.query("SELECT 1", logger: context.logger, timeout: .seconds(2))
                return Self.json(.ok, #"{"status":"ready"}"#)
            } catch {
                return Self.json(.serviceUnavailable, #"{"status":"database_unreachable"}"#)
            }
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }

    package static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
