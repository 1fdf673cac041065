import FlowtalkHTTP
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// Serves the dashboard (Services/Dashboard: index.html, app.css and the ES modules under js/ — no build step) and
/// `GET /api/config`. The files are read once at start: every regular file of the folder and its subfolders whose type is
/// allowed and whose path has no hidden or odd component, each at its own exact route, so nothing else can be asked for.
/// Their pages get their own Content-Security-Policy: scripts, styles and requests only from this origin, plus requests
/// to flowtalk-analytics.
struct DashboardRoutes: Sendable {
    struct File: Sendable {
        let body: ByteBuffer
        let contentType: String
    }

    /// The body of `GET /api/config`: what the dashboard learns from the server rather than keeping a copy.
    struct Config: Encodable, Sendable {
        /// `ANALYTICS_URL`.
        let analytics_url: String
        /// The fewest characters (grapheme clusters, as Swift's `String.count` counts) a new password may have.
        let password_min_length: Int
        /// The privacy policy version in force: the sign-up form sends it back, so a stale form cannot accept another.
        var privacy_policy_version = PrivacyPolicy.version
    }

    /// The file types served, by lower-cased extension. Anything else in the folder is not served.
    static let contentTypes: [String: String] = [
        "html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8",
        "svg": "image/svg+xml", "png": "image/png", "ico": "image/x-icon",
    ]
    static let maximumFiles = 256
    /// The dashboard pages that mailed links open (`PUBLIC_URL/<page>?token=…`).
    static let linkPages = ["/verify-email", "/reset-password", "/confirm-email"]
    static let maximumFileBytes = 2 << 20

    /// Keyed by the path they are served at, e.g. `/js/main.js`.
    let files: [String: File]
    let config: ByteBuffer
    let contentSecurityPolicy: String

    init(directory: String?, analyticsURL: String, logger: Logger) {
        let origin = Self.origin(of: analyticsURL)
        contentSecurityPolicy =
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' \(origin); "
            + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        let body = Config(analytics_url: analyticsURL, password_min_length: AccountController.minimumPasswordCharacters)
        // Two plain values: encoding cannot fail.
        config = ByteBuffer(bytes: (try? JSONResponse.encode(body)) ?? Data("{}".utf8))
        files = Self.locate(directory).map { Self.load(root: $0, logger: logger) } ?? [:]
        if files["/index.html"] == nil { logger.warning("Dashboard files not found: set DASHBOARD_DIR to Services/Dashboard") }
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

    /// The content type a relative path is served with, or nil when it is not served: every component is letters, digits,
    /// `_`, `-` and `.`, none starts with a dot (no hidden files, no `..`), and the extension is an allowed type.
    static func contentType(of relativePath: String) -> String? {
        let components = relativePath.split(separator: "/", omittingEmptySubsequences: false)
        guard !components.isEmpty, components.count <= 8 else { return nil }
        for component in components {
            guard let first = component.first, first != ".", component.count <= 100,
                component.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) })
            else { return nil }
        }
        guard let name = components.last, let dot = name.lastIndex(of: ".") else { return nil }
        return contentTypes[name[name.index(after: dot)...].lowercased()]
    }

    /// Reads the servable regular files under `root` (no symbolic links, nothing that resolves outside it).
    static func load(root: String, logger: Logger) -> [String: File] {
        let manager = FileManager.default
        let base = URL(fileURLWithPath: root).resolvingSymlinksInPath().path
        var files: [String: File] = [:]
        for relative in ((try? manager.subpathsOfDirectory(atPath: base)) ?? []).sorted() {
            let path = base + "/" + relative
            // attributesOfItem does not follow a symbolic link: a link is not a regular file.
            let type = (try? manager.attributesOfItem(atPath: path))?[.type] as? FileAttributeType
            guard type == .typeRegular else { continue }
            guard let contentType = contentType(of: relative), URL(fileURLWithPath: path).resolvingSymlinksInPath().path.hasPrefix(base + "/") else {
                logger.debug("Dashboard file not served", metadata: ["dashboard.file": "\(relative)"])
                continue
            }
            guard files.count < maximumFiles, let data = manager.contents(atPath: path), data.count <= maximumFileBytes else {
                logger.warning("Dashboard file too large or too many files", metadata: ["dashboard.file": "\(relative)"])
                continue
            }
            files["/" + relative] = File(body: ByteBuffer(bytes: data), contentType: contentType)
        }
        logger.debug("Dashboard files read", metadata: ["dashboard.files": "\(files.count)"])
        return files
    }

    static func origin(of url: String) -> String {
        guard let parsed = URL(string: url), let scheme = parsed.scheme, let host = parsed.host else { return url }
        return "\(scheme)://\(host)" + (parsed.port.map { ":\($0)" } ?? "")
    }

    func add<Context: RequestContext>(to router: Router<Context>) {
        router.get("/") { _, _ in try serve("/index.html") }
        router.get("/index.html") { _, _ in try serve("/index.html") }
        // The pages of the mailed links (the token is in their query: the dashboard drops it from the address bar first,
        // and every response carries `Referrer-Policy: no-referrer`).
        for page in Self.linkPages { router.get(RouterPath(page)) { _, _ in try serve("/index.html") } }
        for path in files.keys.sorted() where path != "/index.html" {
            router.get(RouterPath(path)) { _, _ in try serve(path) }
        }
        router.get("/api/config") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: config))
        }
        // The strength meter's list: the same one the server refuses passwords from, so the two never disagree.
        let passwordList = ByteBuffer(string: CommonPasswords.body)
        router.get("/api/password-list") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "public, max-age=86400"],
                body: .init(byteBuffer: passwordList))
        }
        // This API as OpenAPI 3.1, for people and tools (no session needed: it describes, it holds nothing).
        let openAPI = ByteBuffer(string: OpenAPIDocument.body)
        router.get("/api/openapi.yaml") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/yaml; charset=utf-8", .cacheControl: "no-cache"],
                body: .init(byteBuffer: openAPI))
        }
    }

    func serve(_ path: String) throws -> Response {
        guard let file = files[path] else {
            throw APIError(.notFound, code: "dashboard_missing", message: "The dashboard's files are not installed on this server.")
        }
        return Response(
            status: .ok,
            headers: [.contentType: file.contentType, .contentSecurityPolicy: contentSecurityPolicy, .cacheControl: "no-cache"],
            body: .init(byteBuffer: file.body))
    }
}
