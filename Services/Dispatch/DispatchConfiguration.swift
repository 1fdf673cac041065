import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore

/// flowtalk-dispatch's configuration.
struct DispatchConfiguration: Sendable {
    var common: CommonConfiguration
    var worker: JobWorkerConfiguration

    init(common: CommonConfiguration, worker: JobWorkerConfiguration = .init()) {
        self.common = common
        self.worker = worker
    }

    init(environment: ConfigEnvironment) throws {
        common = try CommonConfiguration(environment: environment, defaultPort: 8083)
        worker = JobWorkerConfiguration()
        worker.loops = try environment.int("DISPATCH_WORKERS", default: 4, range: 1...64)
        worker.batchSize = try environment.int("DISPATCH_BATCH_SIZE", default: 8, range: 1...100)
        worker.lease = .seconds(try environment.int("DISPATCH_LEASE_SECONDS", default: 60, range: 5...3600))
        worker.heartbeat = worker.lease / 3
    }
}
