import FlowtalkCore
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOCore
import PostgresNIO

/// How a service's HTTP server listens: plain or with direct TLS, and the limits that keep a slow or oversized client
/// from holding a connection (slowloris) or memory.
package struct HTTPServerSettings: Sendable {
    /// `TLS_CERT_FILE` and `TLS_KEY_FILE`, loaded: the server speaks HTTPS itself. Nil: plain HTTP (behind a proxy).
    package var tls: TLSConfiguration?
    /// A connection that sends nothing for this long — between requests, or before a request's head is complete (half a
    /// request line, headers trickled in) — is closed (`HTTP_IDLE_TIMEOUT_SECONDS`, default 30). Behind a load balancer
    /// that keeps connections to us open, set it above the balancer's own idle timeout, or the balancer may send a
    /// request on a connection we are closing.
    package var idleTimeout: Duration = .seconds(30)
    /// The request head's limits: the headers together, one header, and how many (larger heads are refused).
    package var maxHeaderListBytes = 16 * 1024
    package var maxHeaderFieldBytes = 8 * 1024
    package var maxHeaderFields = 100

    /// Plain HTTP with the default limits (tests, the sandbox).
    package init(tls: TLSConfiguration? = nil) { self.tls = tls }

    /// Reads `TLS_CERT_FILE` and `TLS_KEY_FILE` (PEM; both or neither) and `HTTP_IDLE_TIMEOUT_SECONDS`. Errors name the
    /// variable, never a key.
    package init(environment: ConfigEnvironment) throws {
        idleTimeout = .seconds(try environment.int("HTTP_IDLE_TIMEOUT_SECONDS", default: 30, range: 1...3600))
        let certFile = environment.optional("TLS_CERT_FILE")
        let keyFile = environment.optional("TLS_KEY_FILE")
        switch (certFile, keyFile) {
        case (nil, nil): tls = nil
        case (let cert?, let key?): tls = try Self.loadTLS(certificateFile: cert, keyFile: key)
        case (nil, _): throw ConfigurationError.malformed("TLS_CERT_FILE", "set both TLS_CERT_FILE and TLS_KEY_FILE, or neither")
        case (_, nil): throw ConfigurationError.malformed("TLS_KEY_FILE", "set both TLS_CERT_FILE and TLS_KEY_FILE, or neither")
        }
    }

    /// A server TLS configuration from a PEM certificate chain (leaf first) and a PEM private key.
    package static func loadTLS(certificateFile: String, keyFile: String) throws -> TLSConfiguration {
        guard FileManager.default.isReadableFile(atPath: certificateFile),
            let chain = try? NIOSSLCertificate.fromPEMFile(certificateFile), !chain.isEmpty
        else { throw ConfigurationError.malformed("TLS_CERT_FILE", "cannot read a PEM certificate from that file") }
        guard FileManager.default.isReadableFile(atPath: keyFile), let key = try? NIOSSLPrivateKey(file: keyFile, format: .pem) else {
            throw ConfigurationError.malformed("TLS_KEY_FILE", "cannot read a PEM private key from that file")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        return configuration
    }

    /// The server: HTTP/1.1 with the idle timeout and header limits, wrapped in TLS when configured.
    package func serverBuilder() throws -> HTTPServerBuilder {
        let http1 = HTTPServerBuilder.http1(
            configuration: .init(
                idleTimeout: .nanoseconds(Int64(idleTimeout.components.seconds) * 1_000_000_000 + idleTimeout.components.attoseconds / 1_000_000_000),
                httpDecoderConfiguration: .init(
                    maxHeaderFieldSize: maxHeaderFieldBytes, maxHeaderListSize: maxHeaderListBytes, maxHeaderFieldCount: maxHeaderFields)))
        guard let tls else { return http1 }
        return try .tls(http1, tlsConfiguration: tls)
    }
}
