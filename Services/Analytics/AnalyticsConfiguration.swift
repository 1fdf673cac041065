import FlowtalkCore
import FlowtalkHTTP

/// flowtalk-analytics's configuration.
struct AnalyticsConfiguration: Sendable {
    var common: CommonConfiguration

    init(common: CommonConfiguration) { self.common = common }

    init(environment: ConfigEnvironment) throws {
        common = try CommonConfiguration(environment: environment, defaultPort: 8084)
    }
}
