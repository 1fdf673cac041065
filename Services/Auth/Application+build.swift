import FlowtalkHTTP
import Hummingbird
import Logging
import Prometheus

struct AuthRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    init(source: ApplicationRequestContextSource) { coreContext = .init(source: source) }
}

func buildApplication(
    configuration: AuthConfiguration, logger: Logger? = nil, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
) async throws -> some ApplicationProtocol {
    let runtime = ServiceRuntime(label: "flowtalk-auth", common: configuration.common, logger: logger, registry: registry)
    let router = runtime.router(context: AuthRequestContext.self)
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.common.host, port: configuration.common.port), serverName: nil),
        services: runtime.services,
        logger: runtime.logger)
}
