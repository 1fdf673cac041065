import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import AuthService

private let cspHeader = HTTPField.Name("Content-Security-Policy")!

/// The checkout's Services/Dashboard (this file is Tests/AuthServiceTests/DashboardTests.swift).
private let dashboardFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Services/Dashboard").path

private struct ConfigBody: Decodable {
    let analytics_url: String
    let password_min_length: Int
}

@Suite struct DashboardServingTests {
    @Test func theDashboardIsServedWithItsOwnPolicyAndFindsAnalytics() async throws {
        try await withAuth(dashboardDirectory: dashboardFolder) { client, _ in
            let page = try await client.execute(uri: "/", method: .get)
            #expect(page.status == .ok && page.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(String(buffer: page.body).contains(#"<script type="module" src="/js/main.js"></script>"#))
            let policy = page.headers[cspHeader] ?? ""
            // Only its own scripts and styles; requests to itself and to analytics; never framed.
            for part in ["script-src 'self'", "style-src 'self'", "connect-src 'self' http://127.0.0.1:8084", "frame-ancestors 'none'"] {
                #expect(policy.contains(part), "\(part) in \(policy)")
            }
            #expect(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"))
            #expect(page.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            for (uri, type) in [("/index.html", "text/html"), ("/app.css", "text/css"), ("/js/main.js", "text/javascript; charset=utf-8"),
                                ("/js/words.js", "text/javascript; charset=utf-8"), ("/js/pages/stats.js", "text/javascript; charset=utf-8")] {
                let file = try await client.execute(uri: uri, method: .get)
                #expect(file.status == .ok && file.headers[.contentType]?.hasPrefix(type) == true, "\(uri)")
                #expect(file.headers[cspHeader] == policy, "\(uri)")
            }
            let config = try await client.execute(uri: "/api/config", method: .get)
            #expect(config.headers[.contentType]?.hasPrefix("application/json") == true)
            #expect(String(buffer: config.body) == #"{"analytics_url":"http://127.0.0.1:8084","password_min_length":10,"privacy_policy_version":"\#(PrivacyPolicy.version)"}"#)
            let decoded = try JSONDecoder().decode(ConfigBody.self, from: Data(config.body.readableBytesView))
            #expect(decoded.password_min_length == AccountController.minimumPasswordCharacters)
            for gone in ["/app.js", "/app.js.map", "/js/", "/js"] {
                #expect(try await client.execute(uri: gone, method: .get).status == .notFound, "\(gone)")
            }
        }
    }

    /// Every module is served as JavaScript, stays under 400 lines, and imports only modules that are served.
    @Test func everyModuleIsServedAndItsImportsResolve() async throws {
        let root = URL(fileURLWithPath: dashboardFolder)
        let modules = try FileManager.default.subpathsOfDirectory(atPath: root.path + "/js").filter { $0.hasSuffix(".js") }.map { "/js/" + $0 }
        #expect(modules.contains("/js/main.js") && modules.contains("/js/words.js") && modules.contains { $0.hasPrefix("/js/pages/") })
        try await withAuth(dashboardDirectory: dashboardFolder) { client, _ in
            let importPattern = try Regex(#"from '(\.{1,2}/[^']+)'"#)
            for module in modules {
                let response = try await client.execute(uri: module, method: .get)
                #expect(response.status == .ok && response.headers[.contentType] == "text/javascript; charset=utf-8", "\(module)")
                let source = String(buffer: response.body)
                #expect(source.split(separator: "\n", omittingEmptySubsequences: false).count <= 400, "\(module) is over 400 lines")
                for match in source.matches(of: importPattern) {
                    let target = String(source[match.output[1].range!])
                    let resolved = URL(string: target, relativeTo: URL(string: "http://dashboard" + module))!.absoluteURL.path
                    #expect(try await client.execute(uri: resolved, method: .get).status == .ok, "\(module) imports \(target)")
                }
            }
        }
    }

    /// Only allowed file types inside the folder, read at start: no traversal, hidden files, links out, or other types.
    @Test func onlyTheFolderIsServedAndOnlyAllowedTypes() async throws {
        let manager = FileManager.default
        let scratch = manager.temporaryDirectory.appendingPathComponent("dashboard-\(UUID().uuidString)").path
        defer { try? manager.removeItem(atPath: scratch) }
        let folder = scratch + "/Dashboard"
        for directory in ["/js/pages", "/.git", "/outside"] {
            try manager.createDirectory(atPath: (directory == "/outside" ? scratch : folder) + directory, withIntermediateDirectories: true)
        }
        let files = [
            "/Dashboard/index.html": "<!doctype html>", "/Dashboard/app.css": "body{}", "/Dashboard/js/a.js": "export const a = 1;",
            "/Dashboard/js/pages/b.js": "export const b = 2;", "/Dashboard/notes.txt": "notes", "/Dashboard/js/a.js.map": "{}",
            "/Dashboard/.hidden.js": "hidden", "/Dashboard/js/.secret.js": "secret", "/Dashboard/.git/config.js": "git",
            "/Dashboard/Package.swift": "swift", "/Dashboard/logo.svg": "<svg/>", "/outside/c.js": "outside", "/Package.swift": "outside",
        ]
        for (path, text) in files { try Data(text.utf8).write(to: URL(fileURLWithPath: scratch + path)) }
        try manager.createSymbolicLink(atPath: folder + "/js/link.js", withDestinationPath: scratch + "/outside/c.js")
        try manager.createSymbolicLink(atPath: folder + "/linked", withDestinationPath: scratch + "/outside")

        try await withAuth(dashboardDirectory: folder) { client, _ in
            let module = try await client.execute(uri: "/js/a.js", method: .get)
            #expect(module.status == .ok && module.headers[.contentType] == "text/javascript; charset=utf-8")
            #expect(module.headers[cspHeader]?.contains("script-src 'self'") == true)
            #expect(String(buffer: module.body) == "export const a = 1;")
            #expect(try await client.execute(uri: "/js/pages/b.js", method: .get).status == .ok)
            let svg = try await client.execute(uri: "/logo.svg", method: .get)
            #expect(svg.status == .ok && svg.headers[.contentType] == "image/svg+xml")

            // Read once at start: a change on disk is not served until a restart.
            try Data("export const a = 'changed';".utf8).write(to: URL(fileURLWithPath: folder + "/js/a.js"))
            #expect(String(buffer: try await client.execute(uri: "/js/a.js", method: .get).body) == "export const a = 1;")

            for uri in ["/../Package.swift", "/js/../../Package.swift", "/%2e%2e/Package.swift", "/js/%2E%2E/%2E%2E/Package.swift", "/..%2fPackage.swift",
                        "/Package.swift", "/notes.txt", "/js/a.js.map", "/.hidden.js", "/js/.secret.js", "/.git/config.js", "/js/link.js",
                        "/linked/c.js", "/outside/c.js", "/js/pages/"] {
                let response = try await client.execute(uri: uri, method: .get)
                #expect(response.status == .notFound, "\(uri)")
                #expect(errorCode(response) == "not_found", "\(uri)")
                #expect(response.headers[.contentType]?.hasPrefix("application/json") == true, "\(uri)")
            }
        }
    }

    /// words.js keeps the shape a test reads with a regular expression: `export const REASONS = {`, then one
    /// `  code: 'text',` per line, then `};`.
    @Test func theReasonWordsAreOneEntryPerLine() throws {
        let source = try String(contentsOfFile: dashboardFolder + "/js/words.js", encoding: .utf8)
        let block = try #require(source.firstMatch(of: /export const REASONS = \{\n((?:.*\n)*?)\};\n/))
        let entry = /\ \ ([a-z0-9_]+): '([^'\\]*)',/
        var words: [String: String] = [:]
        for line in block.output.1.split(separator: "\n") {
            let match = try #require(line.wholeMatch(of: entry), "not one entry: \(line)")
            #expect(words.updateValue(String(match.output.2), forKey: String(match.output.1)) == nil, "twice: \(match.output.1)")
        }
        #expect(words["rule_removed"] == "The rule was removed before the reply could go out")
        #expect(words["fallback_removed"] == "The fallback text was removed before it could go out")
        #expect(words["attachment_only"] == "A photo, video or sticker without text")
        #expect(words["ai_disabled"] == "AI was turned off before it answered")
        #expect(words.count >= 39)
    }

    @Test func aPathIsServedOnlyWhenEveryComponentIsPlainAndTheTypeAllowed() {
        for path in ["index.html", "app.css", "js/main.js", "js/pages/ice-breakers.js", "icon.ICO", "img/logo_2.png"] {
            #expect(DashboardRoutes.contentType(of: path) != nil, "\(path)")
        }
        for path in ["", "..", "../x.js", "js/../x.js", ".x.js", "js/.x.js", "x.txt", "x.js.map", "x", "js//x.js", "js/x y.js", "js/{id}.js",
                     "js/:id.js", "js/*.js", "é.js", "Package.swift"] {
            #expect(DashboardRoutes.contentType(of: path) == nil, "\(path)")
        }
    }
}
