import FlowtalkHTTP
import Hummingbird

@main struct SandboxMain {
    static func main() async {
        await ServiceMain.run("flowtalk-sandbox", tracing: false) { environment in
            let configuration = try SandboxConfiguration(environment: environment)
            try await buildApplication(configuration: configuration).runService(listeningOn: configuration.host, port: configuration.port)
        }
    }
}
