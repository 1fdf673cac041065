import FlowtalkHTTP
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Serves the dashboard (Services/Dashboard: index.html, app.css, app.js — no build step) and `GET /api/config`.
/// The files are read once at start. Their pages get their own Content-Security-Policy: scripts, styles and requests
/// only from this origin, plus requests to flowtalk-analytics.
struct DashboardRoutes: Sendable {
    struct File: Sendable {
        let body: ByteBuffer
        let contentType: String
    }

    let files: [String: File]
    let analyticsURL: String
    let contentSecurityPolicy: String

    init(directory: String?, analyticsURL: String, logger: Logger) {
        self.analyticsURL = analyticsURL
        let origin = Self.origin(of: analyticsURL)
        contentSecurityPolicy =
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' \(origin); "
            + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        var files: [String: File] = [:]
        if let root = Self.locate(directory) {
            for (name, type) in [("index.html", "text/html; charset=utf-8"), ("app.css", "text/css; charset=utf-8"),
                                 ("app.js", "text/javascript; charset=utf-8")] {
                if let data = FileManager.default.contents(atPath: root + "/" + name) {
                    files[name] = File(body: ByteBuffer(bytes: data), contentType: type)
                }
            }
        }
        if files["index.html"] == nil { logger.warning("Dashboard files not found: set DASHBOARD_DIR to Services/Dashboard") }
        self.files = files
    }

    /// The first of `DASHBOARD_DIR`, `./Services/Dashboard` and the checkout holding this executable that has index.html.
    static func locate(_ configured: String?) -> String? {
        var candidates: [String] = []
        if let configured { candidates.append(configured) }
        candidates.append(FileManager.default.currentDirectoryPath + "/Services/Dashboard")
        var directory = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(directory.path + "/Services/Dashboard")
            directory = directory.deletingLastPathComponent()
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0 + "/index.html") }
    }

    static func origin(of url: String) -> String {
        guard let parsed = URL(string: url), let scheme = parsed.scheme, let host = parsed.host else { return url }
        return "\(scheme)://\(host)" + (parsed.port.map { ":\($0)" } ?? "")
    }

    func add<Context: RequestContext>(to router: Router<Context>) {
        router.get("/") { _, _ in try serve("index.html") }
        router.get("/index.html") { _, _ in try serve("index.html") }
        router.get("/app.css") { _, _ in try serve("app.css") }
        router.get("/app.js") { _, _ in try serve("app.js") }
        router.get("/api/config") { _, _ -> Response in
            var out: [UInt8] = Array(#"{"analytics_url":"#.utf8)
            out.append(contentsOf: Array("\"\(analyticsURL)\"".utf8))
            out.append(UInt8(ascii: "}"))
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: out)))
        }
    }

    func serve(_ name: String) throws -> Response {
        guard let file = files[name] else { throw APIError(.notFound, code: "dashboard_missing", message: "The dashboard's files are not installed on this server.") }
        return Response(
            status: .ok,
            headers: [.contentType: file.contentType, .contentSecurityPolicy: contentSecurityPolicy, .cacheControl: "no-cache"],
            body: .init(byteBuffer: file.body))
    }
}
