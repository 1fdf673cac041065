import FlowtalkHTTP
import Hummingbird
import Logging
import Prometheus

struct AnalyticsRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
}

func buildApplication(
    configuration: AnalyticsConfiguration, logger: Logger? = nil, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
) async throws -> some ApplicationProtocol {
    let runtime = ServiceRuntime(label: "flowtalk-analytics", common: configuration.common, logger: logger, registry: registry)
    let router = runtime.router(context: AnalyticsRequestContext.self)
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.common.host, port: configuration.common.port), serverName: nil),
        services: runtime.services,
        logger: runtime.logger)
}
