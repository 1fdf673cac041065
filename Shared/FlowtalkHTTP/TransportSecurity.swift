import FlowtalkCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// Whether a request reached us over HTTPS, and what a plain-HTTP request gets outside development.
///
/// A request is HTTPS when the server itself speaks TLS, or when a trusted proxy says so in `X-Forwarded-Proto` (its
/// last value: the one the nearest proxy set). Outside development a plain-HTTP request is answered:
/// - through a trusted proxy, GET/HEAD with a configured public origin: 308 to the same path on that origin (never
///   to a host taken from the request);
/// - otherwise 403 `https_required`, except `/healthz`, `/readyz` and `/metrics`, which keep answering probes and
///   scrapers on the internal network.
/// HSTS is sent on HTTPS responses only (browsers ignore it over plain HTTP, and it must not be learnt from one).
package struct TransportSecurityMiddleware<Context: PeerRequestContext>: RouterMiddleware {
    let mode: DeploymentMode
    let trustedProxies: TrustedProxies
    let directTLS: Bool
    let publicOrigin: String?

    /// `publicURL`: the https address users reach this service at, when it has one (auth's `PUBLIC_URL`).
    package init(mode: DeploymentMode, trustedProxies: TrustedProxies, directTLS: Bool, publicURL: String? = nil) {
        self.mode = mode
        self.trustedProxies = trustedProxies
        self.directTLS = directTLS
        publicOrigin = publicURL.flatMap(TransportSecurity.origin(of:))
    }


    package func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let fromProxy = trustedProxies.contains(context.peerAddress)
        let isHTTPS = directTLS || (fromProxy && forwardedProto(request) == "https")
        if !isHTTPS, !mode.isDevelopment, !TransportSecurity.probePaths.contains(request.uri.path) {
            return try refuse(request, context: context, fromProxy: fromProxy)
        }
        var response = try await next(request, context)
        if isHTTPS { response.headers[.strictTransportSecurity] = TransportSecurity.strictTransportSecurity }
        return response
    }

    private func forwardedProto(_ request: Request) -> String? {
        let values = request.headers[values: .xForwardedProto].flatMap { $0.split(separator: ",") }
        return values.last.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    }

    private func refuse(_ request: Request, context: Context, fromProxy: Bool) throws -> Response {
        if fromProxy, request.method == .get || request.method == .head, let publicOrigin {
            let target = request.head.path.flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "/"
            var response = Response(status: .permanentRedirect, headers: [.location: publicOrigin + target])
            applySecurityHeaders(&response.headers)
            return response
        }
        context.logger.notice("Plain-HTTP request refused", metadata: ["http.from_proxy": "\(fromProxy)"])
        let error = APIError(.forbidden, code: "https_required", message: "Use HTTPS: this service does not answer plain HTTP.")
        var response = try error.response(from: request, context: context)
        applySecurityHeaders(&response.headers)
        return response
    }
}

/// What the middleware shares across its generic instances.
package enum TransportSecurity {
    /// The HSTS value of every HTTPS response.
    package static let strictTransportSecurity = "max-age=31536000; includeSubDomains"
    /// Probes and scrapers on the internal network: answered over plain HTTP in every mode.
    static let probePaths: Set<String> = ["/healthz", "/readyz", "/metrics"]

    /// `scheme://host[:port]` of a URL, as browsers write an origin.
    static func origin(of url: String) -> String? {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(), let host = parsed.host else { return nil }
        let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return "\(scheme)://\(hostPart)" + (parsed.port.map { ":\($0)" } ?? "")
    }
}

extension HTTPField.Name {
    static let xForwardedProto = HTTPField.Name("X-Forwarded-Proto")!
}
