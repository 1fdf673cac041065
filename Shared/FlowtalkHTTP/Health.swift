import FlowtalkStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresNIO
import Prometheus

/// `/healthz`, `/readyz` and `/metrics`, which every service serves (`/metrics` on `METRICS_PORT` instead, when set).
package struct HealthRoutes<Context: RequestContext>: Sendable {
    let client: Database
    let gate: SchemaGate
    let registry: PrometheusCollectorRegistry
    let process: ProcessMetrics?
    let serveMetrics: Bool

    package init(database: Database, gate: SchemaGate, registry: PrometheusCollectorRegistry, process: ProcessMetrics? = nil, serveMetrics: Bool = true) {
        self.client = database
        self.gate = gate
        self.registry = registry
        self.process = process
        self.serveMetrics = serveMetrics
    }

    /// The Prometheus text of `registry`, process metrics refreshed first.
    static func metricsResponse(_ registry: PrometheusCollectorRegistry, _ process: ProcessMetrics?) -> Response {
        process?.record()
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
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
        if serveMetrics {
            router.get("/metrics") { [registry, process] _, _ in Self.metricsResponse(registry, process) }
        }
    }

    /// `{"status": word}` with the HTTP status.
    package static func status(_ status: HTTPResponse.Status, _ word: String) -> Response {
        // One string: encoding cannot fail.
        (try? JSONResponse.make(["status": word], status: status)) ?? Response(status: status)
    }
}
