import AsyncHTTPClient
@testable import AnalyticsService
import FlowtalkCore
import FlowtalkHTTP
import FlowtalkTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import InMemoryLogging
import Logging
import NIOCore
import NIOHTTP1
import Testing

/// Issue 14, item 4: every request counted and logged by route pattern and status (never its query or body), process
/// metrics and build info, and `/metrics` only on `METRICS_PORT` when it is set.
@Suite struct ObservabilityTests {
    @Test func requestsAreCountedAndLoggedByRouteWithoutTheirQuery() async throws {
        let logs = InMemoryLogHandler()
        var configured = Logger(label: "analytics") { _ in logs }
        configured.logLevel = .info
        let logger = configured
        try await TestDatabase.withFresh { database in
            let app = try await AnalyticsService.buildApplication(
                configuration: AnalyticsConfiguration(common: CommonConfiguration(database: database.configuration, port: 0)), logger: logger)
            try await app.test(.router) { client in
                _ = try await waitUntilReady(client)
                #expect(try await client.execute(uri: "/api/stats?from=2026-01-01&tz=QUERY-CANARY", method: .get).status == .unauthorized)
                #expect(try await client.execute(uri: "/no/such/page?x=QUERY-CANARY", method: .get).status == .notFound)
                let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
                #expect(metrics.contains(#"flowtalk_http_requests_total{method="GET",route="/api/stats",status="401"} 1"#))
                #expect(metrics.contains(#"route="unmatched",status="404""#))
                #expect(metrics.contains("flowtalk_http_request_duration_seconds"))
                for name in ["process_resident_memory_bytes", "process_open_fds", "process_cpu_seconds", #"flowtalk_build_info{service="flowtalk-analytics""#] {
                    #expect(metrics.contains(name), "\(name)")
                }
                #expect(!metrics.contains("QUERY-CANARY"))
                let lines = logs.entries.filter { $0.message == "Request" }
                #expect(lines.contains { $0.metadata["http.route"] == "/api/stats" && $0.metadata["http.status"] == "401" && $0.metadata["http.duration_ms"] != nil })
                #expect(!logs.entries.map { "\($0.message) \($0.metadata)" }.joined().contains("QUERY-CANARY"))
            }
        }
    }

    @Test func withAMetricsPortThePublicPortServesNoMetrics() async throws {
        try await TestDatabase.withFresh { database in
            var common = CommonConfiguration(database: database.configuration, port: 0)
            let metricsPort = try FreePorts.next()
            common.metricsPort = metricsPort
            let app = try await AnalyticsService.buildApplication(configuration: AnalyticsConfiguration(common: common), logger: .quiet("analytics"))
            try await app.test(.router) { client in
                _ = try await waitUntilReady(client)
                #expect(try await client.execute(uri: "/metrics", method: .get).status == .notFound)
                var text = ""
                try await eventually("metrics on METRICS_PORT") {
                    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(metricsPort)/metrics"), timeout: .seconds(5))
                    text = String(buffer: try await response.body.collect(upTo: 1 << 22))
                    return response.status == .ok
                }
                #expect(text.contains("flowtalk_build_info") && text.contains("process_resident_memory_bytes"))
            }
        }
    }
}
