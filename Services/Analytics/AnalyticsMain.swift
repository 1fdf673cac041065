import FlowtalkHTTP
import Hummingbird

@main struct AnalyticsMain {
    static func main() async {
        await ServiceMain.run("flowtalk-analytics") { environment in
            let configuration = try AnalyticsConfiguration(environment: environment)
            try await buildApplication(configuration: configuration).runService(listeningOn: configuration.common.host, port: configuration.common.port)
        }
    }
}
