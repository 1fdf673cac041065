import FlowtalkCore
import Foundation
import Logging
import OTel
import ServiceLifecycle
import Synchronization
import Tracing

/// Tracing with swift-otel, off unless `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set
/// in the process environment: then spans go over OTLP/HTTP (protobuf, or JSON with `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`)
/// to that collector, and the other standard `OTEL_*` variables apply (`OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`,
/// `OTEL_BSP_SCHEDULE_DELAY`, …). Only traces: metrics stay on `/metrics`, logs on standard error.
/// Bootstrapped once per process by `ServiceMain`; the exporter runs first in the service group, so it stops last and
/// sends what the others traced while stopping.
package enum ServiceTracing {
    private static let exporter = Mutex<(any Service)?>(nil)

    /// The exporter to run with the application's services, when tracing is on.
    package static var service: (any Service)? { exporter.withLock { $0 } }

    static func bootstrap(serviceName: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Bool {
        let endpoint = environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] ?? environment["OTEL_EXPORTER_OTLP_ENDPOINT"]
        guard let endpoint, !endpoint.isEmpty else { return false }
        var configuration = OTel.Configuration.default
        configuration.serviceName = serviceName
        configuration.traces.enabled = true
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        let backend: (factory: any Tracer, service: any Service)
        do {
            let made = try OTel.makeTracingBackend(configuration: configuration)
            backend = (made.factory, made.service)
        } catch {
            // For example OTEL_EXPORTER_OTLP_PROTOCOL=grpc: this build exports over HTTP only.
            throw ConfigurationError.malformed("OTEL_*", "tracing could not start (\(error)); OTLP over HTTP (http/protobuf or http/json) is supported")
        }
        InstrumentationSystem.bootstrap(backend.factory)
        exporter.withLock { $0 = backend.service }
        return true
    }
}
