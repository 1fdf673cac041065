import FlowtalkHTTP
import Hummingbird

@main struct AuthMain {
    static func main() async {
        await ServiceMain.run("flowtalk-auth") { environment in
            let configuration = try AuthConfiguration(environment: environment)
            try await buildApplication(configuration: configuration).runService(listeningOn: configuration.common.host, port: configuration.common.port)
        }
    }
}
