import FlowtalkCore
import FlowtalkHTTP
import Foundation

/// flowtalk-analytics's configuration.
struct AnalyticsConfiguration: Sendable {
    var common: CommonConfiguration
    /// `PUBLIC_URL`: where the dashboard is served; its origin is the only one CORS lets read the APIs.
    var publicURL: String
    /// How often the retention purge is scheduled (it runs on one replica at a time through the queue).
    var retentionInterval: Duration = .seconds(3600)

    init(common: CommonConfiguration, publicURL: String = "http://127.0.0.1:8081") {
        self.common = common
        self.publicURL = publicURL
    }

    init(environment: ConfigEnvironment) throws {
        common = try CommonConfiguration(environment: environment, defaultPort: 8084)
        publicURL = try environment.url("PUBLIC_URL", default: "http://127.0.0.1:8081")
        // Outside development: the dashboard origin CORS trusts, and this service itself, are HTTPS only.
        try common.requireHTTPSFront()
        try common.requireHTTPS(publicURL, variable: "PUBLIC_URL")
    }

    /// `scheme://host[:port]` of `PUBLIC_URL`, as browsers send it in `Origin`.
    var dashboardOrigin: String {
        guard let url = URL(string: publicURL), let scheme = url.scheme, let host = url.host else { return publicURL }
        return "\(scheme)://\(host)" + (url.port.map { ":\($0)" } ?? "")
    }
}
