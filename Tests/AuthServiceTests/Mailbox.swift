import FlowtalkCore
import FlowtalkStore
import FlowtalkTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// The vault the auth service under test seals its queued mail with, so a test can open it.
let authTestVault = TokenVault.testing().vault

/// The mail auth has queued (not yet sent), read back from the job queue with the test vault: what a user would find in
/// their inbox once the mail worker has sent it.
struct Mailbox: Sendable {
    let database: TestDatabase

    func all() async throws -> [OutgoingMail] {
        try await database.withClient { client in
            let queue = JobQueue(client: client, logger: .quiet("mailbox"))
            return try await queue.queuedPayloads(kind: MailJob.kind).map { try MailJob.mail($0, vault: authTestVault) }
        }
    }

    func to(_ address: String) async throws -> [OutgoingMail] { try await all().filter { $0.to == address } }

    /// The token of the newest link to `page` (`verify-email`, `reset-password`, `confirm-email`) mailed to `address`.
    func token(to address: String, page: String) async throws -> String {
        let mail = try #require(try await to(address).last { $0.text.contains("/\(page)?token=") }, "no \(page) link mailed to \(address)")
        return try #require(Self.token(in: mail.text, page: page))
    }

    /// The token of a `PUBLIC_URL/<page>?token=…` link in a mail's text.
    static func token(in text: String, page: String) -> String? {
        guard let range = text.range(of: "\(origin)/\(page)?token=") else { return nil }
        let token = text[range.upperBound...].prefix { !$0.isWhitespace }
        return token.isEmpty ? nil : String(token)
    }
}

extension Browser {
    /// Opens the newest verification link mailed to `address`, as the dashboard's verify page does.
    func verifyEmail(_ address: String, _ mailbox: Mailbox, page: String = "verify-email") async throws {
        let token = try await mailbox.token(to: address, page: page)
        let response = try await send(.post, "/api/auth/verify", #"{"token":"\#(token)"}"#)
        #expect(response.status == .ok, "verifying \(address): \(String(buffer: response.body))")
    }

    /// Starts connecting Instagram (`POST /api/instagram/connect`).
    func startInstagramConnect() async throws -> TestResponse {
        try await send(.post, "/api/instagram/connect", "{}")
    }

    func me() async throws -> MeWithVerification.Account {
        let response = try await send(.get, "/api/auth/me")
        #expect(response.status == .ok)
        return try decodeJSON(MeWithVerification.self, from: response.body).account
    }
}

/// `GET /api/auth/me` with the fields these tests look at.
struct MeWithVerification: Decodable {
    struct Account: Decodable {
        let id: String
        let email: String
        let email_verified: Bool
    }
    let account: Account
}
