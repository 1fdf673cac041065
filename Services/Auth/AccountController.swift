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
    let throttle: SignInThrottle
    let logger: Logger
    /// The verification, reset and notice mails this controller queues.
    let mails: AccountMails

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

    /// Sign-up's body: `privacy_policy_version` (optional) is the version the form showed; a stale one is refused.
    struct SignUp: Decodable {
        let email: String
        let password: String
        let privacy_policy_version: String?
    }

    struct AccountBody: Encodable {
        let id: String
        let email: String
        let email_verified: Bool
        let created_at: Date
        let instagram: Instagram?
        let privacy_policy: PolicyState
        /// The policy now in force and the latest version this account accepted (nil: none yet); the dashboard shows a
        /// notice while they differ.
        struct PolicyState: Encodable {
            let current_version: String
            let accepted_version: String?
            let accepted_at: Date?
            var url = "/privacy"
        }
        struct Instagram: Encodable {
            let username: String?
            let instagram_user_id: String
            let status: String
        }
    }

    // MARK: Routes

    /// Always the same answer for a new and an already registered email (no enumeration); the password is hashed
    /// either way, so the two take the same time. Sign-up does not sign in: the dashboard signs in next.
    /// A new or still unverified address is mailed a verification link (nothing of an existing account is taken over);
    /// a verified one, a note to its owner: one mail queued in every case.
    func signup(_ request: Request, context: AuthRequestContext) async throws -> Response {
        try await limiter.enforce("signup:ip:\(address(request, context))", limit: 10, window: .seconds(3600))
        let body = try await request.decode(as: SignUp.self, context: context)
        let email = try Self.canonicalEmail(body.email)
        try Self.checkPasswordPolicy(body.password)
        if let shown = body.privacy_policy_version, shown != PrivacyPolicy.version {
            throw APIError(
                .conflict, code: "privacy_policy_changed",
                message: "The privacy policy changed since this page was loaded: reload the page and read version \(PrivacyPolicy.version).")
        }
        try await limiter.enforce("signup:email:\(email)", limit: 5, window: .seconds(3600))
        let hash = try await hashOffLoop(body.password)
        _ = try await accounts.signUp(
            email: email, passwordHash: hash, lifetime: AccountMails.verificationLifetime, claimLifetime: AccountMails.resetLifetime,
            policyVersion: PrivacyPolicy.version
        ) { [mails] outcome, token in
            switch outcome {
            case .created: [try mails.job(mails.verify(to: email, token: token))]
            case .existingUnverified: [try mails.job(mails.finishSignUp(to: email, token: token))]
            case .existingVerified: [try mails.job(mails.signupWithVerifiedAddress(to: email))]
            }
        }
        context.logger.info("Sign-up handled")
        struct Created: Encodable {
            let status = "created"
            let message = "If this address was not registered yet, the account is ready: sign in. We mailed a link to verify the address."
        }
        return try JSONResponse.make(Created(), status: .created)
    }

    /// Sign-in. Failures are throttled per (email, client) with growing delays and bounded per email without ever refusing a
    /// client that has not failed (`SignInThrottle`), so nobody can lock the owner out by failing on purpose.
    func login(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let client = address(request, context)
        try await limiter.enforce("login:ip:\(client)", limit: 30, window: .seconds(300))
        let body = try await request.decode(as: Credentials.self, context: context)
        let email = (try? Self.canonicalEmail(body.email)) ?? body.email.lowercased()
        if let wait = try await throttle.begin(email: email, clientKey: client) {
            context.logger.notice("Sign-in throttled")
            throw APIError(
                .tooManyRequests, code: "rate_limited",
                message: "Too many failed sign-ins. Try again in \(wait) seconds, or reset your password.", headers: [.retryAfter: "\(wait)"])
        }
        let found = try await accounts.credentials(email: email)
        // Unknown email: still verify against a real hash, so both cases take the same time.
        let stored = found?.1 ?? Self.dummyHash(hasher)
        let ok = try await verifyOffLoop(body.password, stored) && found != nil
        guard ok, let (accountID, hash) = found else {
            context.logger.notice("Sign-in refused")
            throw APIError.unauthorized("Email or password is incorrect.", code: "invalid_credentials")
        }
        try await throttle.succeeded(email: email, clientKey: client)
        if hasher.needsRehash(hash) {
            let fresh = try await hashOffLoop(body.password)
            try await accounts.setPasswordHash(fresh, accountID: accountID)
        }
        // A new session id at every sign-in; a session the browser already had is ended (no fixation).
        if let previous = request.cookies[cookies.name]?.value, !previous.isEmpty { try await sessions.delete(token: previous) }
        let token = try await sessions.create(accountID: accountID, userAgent: request.headers[.userAgent])
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

    /// Ends every session of the account, this one included, and signs this browser in again under a new session id: a
    /// session id that leaked before the change (the reason for many a change) is worthless after it.
    func changePassword(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let session = try context.requireSession()
        try await limiter.enforce("password:account:\(session.accountID)", limit: 10, window: .seconds(900))
        let body = try await request.decode(as: PasswordChange.self, context: context)
        let current = try await accounts.credentials(accountID: session.accountID)
        let stored = current?.passwordHash ?? ""
        guard try await verifyOffLoop(body.current_password, stored) else {
            throw APIError.unauthorized("The current password is incorrect.", code: "invalid_credentials")
        }
        try Self.checkPasswordPolicy(body.new_password)
        let fresh = try await hashOffLoop(body.new_password)
        let notices = try current.map { [try mails.job(mails.passwordChanged(to: $0.email))] } ?? []
        try await accounts.setPasswordHash(fresh, accountID: session.accountID, notices: notices)
        try await sessions.deleteAll(accountID: session.accountID)
        let token = try await sessions.create(accountID: session.accountID, userAgent: request.headers[.userAgent])
        var response = Response(status: .noContent)
        response.setCookie(cookies.cookie(token: token))
        context.logger.info("Password changed")
        return response
    }

    // MARK: Helpers

    private func accountResponse(_ accountID: UUID, status: HTTPResponse.Status) async throws -> Response {
        guard let account = try await accounts.summary(accountID: accountID) else { throw APIError.unauthorized("Please sign in.") }
        let instagram = account.instagram.map { AccountBody.Instagram(username: $0.username, instagram_user_id: $0.instagramUserID, status: $0.status) }
        let accepted = try await accounts.acceptedPolicies(accountID: accountID).last
        let policy = AccountBody.PolicyState(current_version: PrivacyPolicy.version, accepted_version: accepted?.version, accepted_at: accepted?.acceptedAt)
        return try JSONResponse.make(
            ["account": AccountBody(
                id: account.id.uuidString.lowercased(), email: account.email, email_verified: account.emailVerified, created_at: account.createdAt,
                instagram: instagram, privacy_policy: policy)],
            status: status)
    }

    /// The client's rate-limit key: its address through trusted proxies, an IPv6 client's /64 as one.
    func address(_ request: Request, _ context: AuthRequestContext) -> String {
        trustedProxies.rateLimitKey(peer: context.peerAddress, forwardedFor: request.headers[HTTPField.Name("X-Forwarded-For")!])
    }

    func hashOffLoop(_ password: String) async throws -> String {
        do {
            return try await NIOThreadPool.singleton.runIfActive { [hasher] in try hasher.hash(password) }
        } catch let error as PasswordError {
            throw Self.passwordError(error)
        }
    }

    func verifyOffLoop(_ password: String, _ stored: String) async throws -> Bool {
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

    /// At least 10 characters, at most 1,024 bytes, no NUL, not one of the 30,000 most common passwords nor one of them
    /// dressed up with a few digits or symbols (`CommonPasswords`). No composition rules.
    static func checkPasswordPolicy(_ password: String) throws {
        if password.utf8.count > PasswordHasher.maximumBytes { throw passwordError(.tooLong) }
        if password.utf8.contains(0) { throw passwordError(.containsNUL) }
        guard password.count >= minimumPasswordCharacters else {
            throw APIError.badRequest("Use at least \(minimumPasswordCharacters) characters.", code: "password_too_short")
        }
        guard !CommonPasswords.isCommon(password) else {
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
