import AsyncHTTPClient
import FlowtalkCore
import FlowtalkHTTP
import FlowtalkTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import PostgresNIO
import Testing

@testable import DispatchService

/// How every service's HTTP server listens: direct TLS, and the limits a slow or oversized client meets.
@Suite struct TransportTests {
    func withDispatch(
        mode: DeploymentMode = .development, server: HTTPServerSettings, _ body: @Sendable @escaping (Int) async throws -> Void
    ) async throws {
        try await TestDatabase.withFresh { database in
            let common = CommonConfiguration(database: database.configuration, port: 0, mode: mode, server: server)
            let configuration = DispatchConfiguration(common: common, vault: TokenVault.testing().vault)
            try await DispatchService.buildApplication(configuration: configuration, logger: .quiet("dispatch")).test(.live) { client in
                try await body(try #require(client.port))
            }
        }
    }

    @Test func directTLSServesHTTPSWithHSTS() async throws {
        let pair = try await SelfSignedCertificate.make()
        defer { pair.remove() }
        let server = HTTPServerSettings(tls: try HTTPServerSettings.loadTLS(certificateFile: pair.certificate, keyFile: pair.key))
        try await withDispatch(mode: .production, server: server) { port in
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(pair.certificate)
            let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
            do {
                let response = try await http.execute(HTTPClientRequest(url: "https://localhost:\(port)/healthz"), timeout: .seconds(30))
                #expect(response.status == .ok)
                #expect(response.headers.first(name: "Strict-Transport-Security")?.hasPrefix("max-age=31536000") == true)
                // Over direct TLS a production service answers every route, not only the probes.
                let missing = try await http.execute(HTTPClientRequest(url: "https://localhost:\(port)/no/such/route"), timeout: .seconds(30))
                #expect(missing.status == .notFound)
            } catch {
                try await http.shutdown()
                throw error
            }
            try await http.shutdown()
        }
    }

    @Test func aConnectionThatStopsMidRequestLineIsClosed() async throws {
        var server = HTTPServerSettings()
        server.idleTimeout = .seconds(1)
        try await withDispatch(server: server) { port in
            // Slowloris: half a request line, then nothing. The server must hang up by itself.
            let result = try await RawConnection.exchange(port: port, send: "GET /healthz HT", waitUpTo: 30)
            #expect(result.closedByServer)
            #expect(result.received.isEmpty)
            // A whole request on a fresh connection is still answered.
            let whole = try await RawConnection.exchange(port: port, send: "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", waitUpTo: 30)
            #expect(whole.received.hasPrefix("HTTP/1.1 200"))
        }
    }

    @Test func anOversizedRequestHeadIsRefused() async throws {
        try await withDispatch(server: HTTPServerSettings()) { port in
            let big = String(repeating: "a", count: 20 * 1024)
            let result = try await RawConnection.exchange(
                port: port, send: "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: \(big)\r\nConnection: close\r\n\r\n", waitUpTo: 30)
            #expect(!result.received.hasPrefix("HTTP/1.1 200"), "\(result.received.prefix(40))")
            #expect(result.closedByServer)
            let many = (0..<150).map { "X-H\($0): v\r\n" }.joined()
            let counted = try await RawConnection.exchange(
                port: port, send: "GET /healthz HTTP/1.1\r\nHost: x\r\n\(many)Connection: close\r\n\r\n", waitUpTo: 30)
            #expect(!counted.received.hasPrefix("HTTP/1.1 200"), "\(counted.received.prefix(40))")
        }
    }
}

/// A plain TCP client for what HTTP clients will not send: half requests, oversized heads.
enum RawConnection {
    struct Exchange: Sendable {
        let received: String
        /// The server closed the connection before `waitUpTo` seconds passed.
        let closedByServer: Bool
    }

    struct SocketError: Error { let step: String }

    /// Connects to 127.0.0.1:`port`, sends `text`, and reads until the server closes or `waitUpTo` seconds pass (a
    /// liveness bound, not a timing goal). Runs on its own thread: the calls block.
    static func exchange(port: Int, send text: String, waitUpTo seconds: Int) async throws -> Exchange {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try blockingExchange(port: port, send: text, waitUpTo: seconds) }) }.start()
        }
    }

    private static func blockingExchange(port: Int, send text: String, waitUpTo seconds: Int) throws -> Exchange {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError(step: "socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw SocketError(step: "connect") }
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count else {
            throw SocketError(step: "send")
        }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(TimeInterval(seconds))
        while Date() < deadline {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received += buffer[0..<count]
            } else if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                // Closed (or reset) by the server.
                return Exchange(received: String(decoding: received, as: UTF8.self), closedByServer: true)
            }
        }
        return Exchange(received: String(decoding: received, as: UTF8.self), closedByServer: false)
    }
}
