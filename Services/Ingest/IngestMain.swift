import FlowtalkHTTP
import Hummingbird

@main struct IngestMain {
    static func main() async {
        await ServiceMain.run("flowtalk-ingest") { environment in
            let configuration = try IngestConfiguration(environment: environment)
            try await buildApplication(configuration: configuration).runService(listeningOn: configuration.common.host, port: configuration.common.port)
        }
    }
}
