import FlowtalkHTTP
import Hummingbird

@main struct DispatchMain {
    static func main() async {
        await ServiceMain.run("flowtalk-dispatch") { environment in
            let configuration = try DispatchConfiguration(environment: environment)
            try await buildApplication(configuration: configuration).runService(listeningOn: configuration.common.host, port: configuration.common.port)
        }
    }
}
