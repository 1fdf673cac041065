import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO

/// Sign-up, sign-in, sign-out, the current account, and password change.
struct AccountController: Sendable {
    let client: Database
    let sessions: SessionStore
    let limiter: RateLimiter
    let hasher: PasswordHasher
    let cookies: SessionCookies
    let trustedProxies: TrustedProxies
    let logger: Logger

    static let minimumPasswordCharacters = 10
    var accounts: AccountStore { AccountStore(client: client, logger: logger) }

    func add(to group: RouterGroup<AuthRequestContext>) {
        group.post("signup", use: signup)
        group.post("login", use: login)
        group.post("logout", use: logout)
        group.get("me", use: me)
        group.post("password", use: changePassword)
    }

    struct Credentials: Decodable {
        let email: String
        let password: String
    }

    struct AccountBody: Encodable {
        let id: String
        let email: String
        let created_at: Date
        let instagram: Instagram?
        struct Instagram: Encodable {
            let username: String?
            let instagram_user_id: String
            let status: String
        }
    }

    // MARK: Routes

    /// Always the same answer for a new and an already registered email (no enumeration); the password is hashed
    /// either way, so the two take the same time. Sign-up does not sign in: the dashboard signs in next.
    func signup(_ request: Request, context: AuthRequestContext) async throws -> Response {
        try await limiter.enforce("signup:ip:\(address(request, context))", limit: 10, window: .seconds(3600))
        let body = try await request.decode(as: Credentials.self, context: context)
        let email = try Self.canonicalEmail(body.email)
        try Self.checkPasswordPolicy(body.password)
        let hash = try await hashOffLoop(body.password)
        _ = try await accounts.create(email: email, passwordHash: hash)
        context.logger.info("Sign-up handled")
        struct Created: Encodable { let status = "created", message = "If this address was not registered yet, the account is ready: sign in." }
        return try JSONResponse.make(Created(), status: .created)
    }

    func login(_ request: Request, context: AuthRequestContext) async throws -> Response {
        try await limiter.enforce("login:ip:\(address(request, context))", limit: 30, window: .seconds(300))
        let body = try await request.decode(as: Credentials.self, context: context)
        let email = (try? Self.canonicalEmail(body.email)) ?? body.email.lowercased()
        try await limiter.enforce("login:email:\(email.prefix(254))", limit: 10, window: .seconds(900))
        let found = try await accounts.credentials(email: email)
        // Unknown email: still verify against a real hash, so both cases take the same time.
        let stored = found?.1 ?? Self.dummyHash(hasher)
        let ok = try await verifyOffLoop(body.password, stored) && found != nil
        guard ok, let (accountID, hash) = found else {
            context.logger.notice("Sign-in refused")
            throw APIError.unauthorized("Email or password is incorrect.", code: "invalid_credentials")
        }
        if hasher.needsRehash(hash) {
            let fresh = try await hashOffLoop(body.password)
            try await accounts.setPasswordHash(fresh, accountID: accountID)
        }
        // A new session id at every sign-in; a session the browser already had is ended (no fixation).
        if let previous = request.cookies[cookies.name]?.value, !previous.isEmpty { try await sessions.delete(token: previous) }
        let token = try await sessions.create(accountID: accountID)
        var response = try await accountResponse(accountID, status: .ok)
        response.setCookie(cookies.cookie(token: token))
        context.logger.info("Signed in")
        return response
    }

    func logout(_ request: Request, context: AuthRequestContext) async throws -> Response {
        if let session = context.session { try await sessions.delete(token: session.token) }
        var response = Response(status: .noContent)
        response.setCookie(cookies.expired())
        return response
    }

    func me(_ request: Request, context: AuthRequestContext) async throws -> Response {
        try await accountResponse(try context.requireSession().accountID, status: .ok)
    }

    struct PasswordChange: Decodable {
        let current_password: String
        let new_password: String
    }

    /// Ends every other session of the account.
    func changePassword(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let session = try context.requireSession()
        try await limiter.enforce("password:account:\(session.accountID)", limit: 10, window: .seconds(900))
        let body = try await request.decode(as: PasswordChange.self, context: context)
        let stored = try await accounts.credentials(accountID: session.accountID)?.passwordHash ?? ""
        guard try await verifyOffLoop(body.current_password, stored) else {
            throw APIError.unauthorized("The current password is incorrect.", code: "invalid_credentials")
        }
        try Self.checkPasswordPolicy(body.new_password)
        let fresh = try await hashOffLoop(body.new_password)
        try await accounts.setPasswordHash(fresh, accountID: session.accountID)
        try await sessions.deleteAll(accountID: session.accountID, except: session.token)
        return Response(status: .noContent)
    }

    // MARK: Helpers

    private func accountResponse(_ accountID: UUID, status: HTTPResponse.Status) async throws -> Response {
        guard let account = try await accounts.summary(accountID: accountID) else { throw APIError.unauthorized("Please sign in.") }
        let instagram = account.instagram.map { AccountBody.Instagram(username: $0.username, instagram_user_id: $0.instagramUserID, status: $0.status) }
        return try JSONResponse.make(
            ["account": AccountBody(id: account.id.uuidString.lowercased(), email: account.email, created_at: account.createdAt, instagram: instagram)],
            status: status)
    }

    /// The client's rate-limit key: its address through trusted proxies, an IPv6 client's /64 as one.
    private func address(_ request: Request, _ context: AuthRequestContext) -> String {
        trustedProxies.rateLimitKey(peer: context.peerAddress, forwardedFor: request.headers[HTTPField.Name("X-Forwarded-For")!])
    }

    private func hashOffLoop(_ password: String) async throws -> String {
        do {
            return try await NIOThreadPool.singleton.runIfActive { [hasher] in try hasher.hash(password) }
        } catch let error as PasswordError {
            throw Self.passwordError(error)
        }
    }

    private func verifyOffLoop(_ password: String, _ stored: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { [hasher] in hasher.verify(password, against: stored) }
    }

    /// A fixed hash to verify against when the email is unknown (made once per cost).
    private static let dummyHashes = DummyHashes()
    private static func dummyHash(_ hasher: PasswordHasher) -> String { dummyHashes.hash(for: hasher) }

    static func passwordError(_ error: PasswordError) -> APIError {
        switch error {
        case .tooLong: .badRequest("Passwords can be at most \(PasswordHasher.maximumBytes) bytes.", code: "password_too_long")
        case .containsNUL: .badRequest("Passwords cannot contain a NUL character.", code: "password_invalid")
        }
    }

    /// At least 10 characters, at most 1,024 bytes, no NUL, not one of the most common passwords. No composition rules.
    static func checkPasswordPolicy(_ password: String) throws {
        if password.utf8.count > PasswordHasher.maximumBytes { throw passwordError(.tooLong) }
        if password.utf8.contains(0) { throw passwordError(.containsNUL) }
        guard password.count >= minimumPasswordCharacters else {
            throw APIError.badRequest("Use at least \(minimumPasswordCharacters) characters.", code: "password_too_short")
        }
        guard !CommonPasswords.list.contains(password.lowercased()) else {
            throw APIError.badRequest("This password is too common; choose another.", code: "password_too_common")
        }
    }

    /// Trimmed, lower-cased, NFC; one `@`, a local part of 1–64 and a domain with a dot; at most 254 characters.
    static func canonicalEmail(_ raw: String) throws -> String {
        let email = raw.trimmingCharacters(in: .whitespacesAndNewlines).precomposedStringWithCanonicalMapping.lowercased()
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard email.count <= 254, parts.count == 2, (1...64).contains(parts[0].count), parts[1].contains("."), !parts[1].hasPrefix("."),
            !parts[1].hasSuffix("."), email.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F })
        else { throw APIError.badRequest("Enter a valid email address.", code: "invalid_email") }
        return email
    }
}

/// Dummy hashes by cost, made on first use.
final class DummyHashes: Sendable {
    private let cache = NIOLockedValueBox<[UInt8: String]>([:])
    func hash(for hasher: PasswordHasher) -> String {
        cache.withLockedValue { cache in
            if let hash = cache[hasher.cost] { return hash }
            let hash = (try? hasher.hash("flowtalk-dummy-password-\(UUID().uuidString)")) ?? "v1$"
            cache[hasher.cost] = hash
            return hash
        }
    }
}

/// A short list of the most used passwords (lower-cased), refused at sign-up and change.
enum CommonPasswords {
    static let list: Set<String> = [
        "1234567890", "12345678910", "qwertyuiop", "password123", "password1234", "1q2w3e4r5t", "qwerty123456", "iloveyou123",
        "0987654321", "1111111111", "0000000000", "123123123123", "abcdefghij", "passwordpassword", "qwertyqwerty", "1qaz2wsx3edc",
        "letmein123", "welcome123", "administrator", "football123", "princess123", "sunshine123", "monkey1234", "dragon1234",
        "baseball123", "superman123", "trustno1234", "qazwsxedcrfv", "asdfghjkl1", "zxcvbnm123", "passw0rd123", "changeme123",
        "instagram123", "instagram1", "flowtalk123", "p@ssw0rd123", "1234qwerasdf", "q1w2e3r4t5", "a1b2c3d4e5", "9876543210",
    ]
}
