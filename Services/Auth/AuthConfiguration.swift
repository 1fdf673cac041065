import FlowtalkCore
import FlowtalkHTTP

/// flowtalk-auth's configuration.
struct AuthConfiguration: Sendable {
    var common: CommonConfiguration

    init(common: CommonConfiguration) { self.common = common }

    init(environment: ConfigEnvironment) throws {
        common = try CommonConfiguration(environment: environment, defaultPort: 8081)
    }
}
