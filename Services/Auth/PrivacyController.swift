import FlowtalkHTTP
import FlowtalkStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The privacy policy: its page (`GET /privacy`, no session needed) and the signed-in account's acceptance of the version
/// in force (`POST /api/account/privacy-policy`), which ends the dashboard's notice of a newer version.
struct PrivacyController: Sendable {
    let client: Database
    let page: ByteBuffer
    let logger: Logger

    /// The page loads nothing but the dashboard's stylesheet.
    static let contentSecurityPolicy =
        "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

    init(client: Database, policy: PrivacyPolicy, logger: Logger) {
        self.client = client
        self.page = ByteBuffer(string: policy.html)
        self.logger = logger
    }

    func add(api: RouterGroup<AuthRequestContext>, router: Router<AuthRequestContext>) {
        router.get("/privacy") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .contentSecurityPolicy: Self.contentSecurityPolicy, .cacheControl: "no-cache"],
                body: .init(byteBuffer: page))
        }
        api.post("account/privacy-policy", use: accept)
    }

    /// `{"version"}`: the version the dashboard showed. Only the version in force can be accepted.
    func accept(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let account = try context.requireSession().accountID
        struct Input: Decodable { let version: String }
        let version = try await request.decode(as: Input.self, context: context).version
        guard version == PrivacyPolicy.version else {
            throw APIError(
                .conflict, code: "privacy_policy_changed",
                message: "Version \(PrivacyPolicy.version) of the privacy policy is in force: reload it and read that one.")
        }
        try await AccountStore(client: client, logger: logger).acceptPolicy(version, accountID: account)
        context.logger.info("Privacy policy accepted", metadata: ["privacy.version": "\(version)"])
        return Response(status: .noContent)
    }
}
