import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import FlowtalkTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import Synchronization
import Testing

@testable import AnalyticsService
@testable import AuthService
@testable import DispatchService
@testable import IngestService

/// Every service through an abrupt PostgreSQL restart (issue #10): `/readyz` says 503 while the database is gone and
/// 200 once it is back, ingest answers 503 instead of hanging and takes deliveries again, dispatch runs jobs again.
/// Each test crashes a cluster of its own.
@Suite(.serialized, .timeLimit(.minutes(3))) struct DatabaseRestartTests {
    static func common(_ cluster: PrivateCluster) throws -> CommonConfiguration {
        var common = CommonConfiguration(database: try cluster.configuration(), port: 0)
        common.databaseTimeout = .seconds(3)
        return common
    }

    static func status(_ client: some TestClientProtocol, _ uri: String = "/readyz") async throws -> HTTPResponse.Status {
        try await client.execute(uri: uri, method: .get).status
    }

    /// Waits for ready, crashes PostgreSQL, waits for 503, runs `whileDown`, restarts it, waits for ready again.
    static func restart(
        _ cluster: PrivateCluster, _ client: some TestClientProtocol, whileDown: () async throws -> Void = {}
    ) async throws {
        try await eventually(timeout: .seconds(60)) { try await status(client) == .ok }
        try cluster.crash()
        try await eventually { try await status(client) == .serviceUnavailable }
        let health = try await status(client, "/healthz")
        #expect(health == .ok)
        try await whileDown()
        try cluster.restart()
        try await eventually(timeout: .seconds(60)) { try await status(client) == .ok }
    }

    @Test func authAndAnalyticsReportTheDatabaseAndRecover() async throws {
        try await PrivateCluster.with { cluster in
            let auth = AuthConfiguration(
                common: try Self.common(cluster), passwordPepper: TestSecrets.passwordPepper, bcryptCost: TestSecrets.bcryptCost, instagram: TestSecrets.instagram(), vault: TokenVault.testing().vault)
            try await AuthService.buildApplication(configuration: auth, logger: .quiet("auth")).test(.router) { client in
                try await Self.restart(cluster, client)
                try await Self.restart(cluster, client)
            }
            let analytics = AnalyticsConfiguration(common: try Self.common(cluster))
            try await AnalyticsService.buildApplication(configuration: analytics, logger: .quiet("analytics")).test(.router) { client in
                try await Self.restart(cluster, client)
            }
        }
    }

    static let secret = "restart-secret"

    static func deliver(_ client: some TestClientProtocol, mid: String) async throws -> HTTPResponse.Status {
        let body = """
            {"object":"instagram","entry":[{"time":1700000000000,"id":"17841400000000001","messaging":[{"sender":{"id":"9001"},\
            "recipient":{"id":"17841400000000001"},"timestamp":1700000000000,"message":{"mid":"\(mid)","text":"hi"}}]}]}
            """
        var headers: HTTPFields = [.contentType: "application/json"]
        headers[HTTPField.Name("X-Hub-Signature-256")!] = WebhookSignatureVerifier.sign(body: Array(body.utf8), secret: secret)
        return try await client.execute(uri: "/webhooks/instagram", method: .post, headers: headers, body: ByteBuffer(string: body)).status
    }

    @Test func ingestAnswers503WhileTheDatabaseIsDownAndTakesDeliveriesAfter() async throws {
        try await PrivateCluster.with { cluster in
            let configuration = IngestConfiguration(
                common: try Self.common(cluster), metaAppSecret: Secret(Self.secret), verifyToken: Secret("vt"), maxBodyBytes: 1 << 20)
            try await IngestService.buildApplication(configuration: configuration, logger: .quiet("ingest")).test(.router) { client in
                try await Self.restart(cluster, client) {
                    // Not acknowledged, so Meta delivers it again later; and answered, not left hanging.
                    let whileDown = try await Self.deliver(client, mid: "m-down")
                    #expect(whileDown == .serviceUnavailable)
                }
                try await eventually { try await Self.deliver(client, mid: "m-down") == .ok }
                let afterwards = try await Self.deliver(client, mid: "m-up")
                #expect(afterwards == .ok)
            }
            try await TestDatabase.withClient(try cluster.configuration(), logger: .quiet("q")) { db in
                var keys: [String] = []
                for try await key in try await db.query("SELECT dedupe_key FROM jobs ORDER BY id").decode(String.self) { keys.append(key) }
                #expect(keys.count == 2 && keys.allSatisfy { $0.hasSuffix("m-down") || $0.hasSuffix("m-up") })
            }
        }
    }

    @Test func dispatchRunsJobsAgainAfterARestart() async throws {
        try await PrivateCluster.with { cluster in
            let ran = Mutex<Set<String>>([])
            let handler: JobHandler = { job, _ in _ = ran.withLock { $0.insert(String(buffer: job.payload)) } }
            var worker = JobWorkerConfiguration()
            worker.pollInterval = .milliseconds(200)
            worker.rescueInterval = .milliseconds(200)
            let configuration = DispatchConfiguration(common: try Self.common(cluster), vault: TokenVault.testing().vault, worker: worker)
            try await DispatchService.buildApplication(configuration: configuration, logger: .quiet("dispatch"), handlers: ["probe": handler])
                .test(.router)
            { client in
                try await Self.restart(cluster, client)
                try await Self.restart(cluster, client)
                try await TestDatabase.withClient(try cluster.configuration(), logger: .quiet("q")) { db in
                    let queue = JobQueue(client: db, logger: .quiet("q"))
                    try await queue.enqueue([NewJob(kind: "probe", payload: ByteBuffer(string: "after-restarts"))])
                }
                try await eventually(timeout: .seconds(60)) { ran.withLock { $0.contains("after-restarts") } }
            }
        }
    }
}
