import Foundation

/// The dashboard API as OpenAPI 3.1 (Resources/openapi.yaml, which docs/openapi.yaml links to), served as shipped at
/// `GET /api/openapi.yaml`. A resource of this executable, read once at start; `scripts/openapi-check.sh` validates it
/// and tests the running services against it.
enum OpenAPIDocument {
    static let body: String = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let text = try? String(contentsOf: url, encoding: .utf8), !text.isEmpty
        else { fatalError("flowtalk-auth: its resource openapi.yaml is missing; reinstall it with the executable") }
        return text
    }()
}
