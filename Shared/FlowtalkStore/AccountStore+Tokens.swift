import Crypto
import FlowtalkCore
import Foundation
import Logging
import NIOCore
import PostgresNIO

/// What a mailed link may do (`account_tokens.purpose`).
package enum AccountTokenPurpose: String, Sendable {
    case verifyEmail = "verify_email"
    case resetPassword = "reset_password"
    case changeEmail = "change_email"
}

/// What a sign-up found, for the mail it sends: a new account, an existing unverified one (the link again), or a verified
/// one (a note to its owner). Nothing is taken over in either existing case.
package enum SignUpOutcome: Sendable, Equatable {
    case created
    case existingUnverified
    case existingVerified
}

/// What a consumed link did.
package enum ConsumedToken: Sendable, Equatable {
    /// The account's address is now verified.
    case verified(email: String)
    /// The account's address changed from `old` to `new` (verified).
    case emailChanged(old: String, new: String)
}

/// The new address of a change of email belongs to another account now: nothing was changed and the link still works.
package struct NewEmailTaken: Error {}

/// A single-use token for a mailed link: 256 random bits, base64url. Only its SHA-256 is stored.
package func newLinkToken() -> String {
    var generator = SystemRandomNumberGenerator()
    let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
    return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

/// AccountStore owns `account_tokens` as well: a link's token is issued with the mail that carries it, and consumed with
/// what it does, in one transaction each (a mail is queued exactly when its token exists; a token acts at most once).
extension AccountStore {
    static func tokenHash(_ token: String) -> ByteBuffer { ByteBuffer(bytes: Array(SHA256.hash(data: Array(token.utf8)))) }

    /// Signs up `email`, or finds it taken, and queues the mail `mail` makes for that outcome, with a fresh token: a new
    /// account's is a verification token (valid `lifetime`); an unverified account's is a password-reset token (valid
    /// `claimLifetime`), because whoever signed up first knows that account's password — the address's owner must set their
    /// own, which ends the first one's sessions, rather than verify an account someone else may hold. A verified address
    /// gets no token. The password of an existing account is never changed here.
    package func signUp(
        email: String, passwordHash: String, lifetime: Duration, claimLifetime: Duration, policyVersion: String? = nil,
        mail: @escaping @Sendable (SignUpOutcome, _ token: String) throws -> [NewJob]
    ) async throws -> SignUpOutcome {
        let queue = JobQueue(client: client, logger: logger)
        let token = newLinkToken()
        let id = UUID()
        return try await client.withTransaction(logger: logger) { db in
            var outcome = SignUpOutcome.created
            var accountID = id
            let inserted = try await db.query(
                "INSERT INTO accounts (id, email, password_hash) VALUES (\(id), \(email), \(passwordHash)) ON CONFLICT (email) DO NOTHING RETURNING id",
                logger: logger)
            var created = false
            for try await _ in inserted.decode(UUID.self) { created = true }
            if created {
                try await db.query("INSERT INTO account_settings (account_id) VALUES (\(id))", logger: logger)
                if let policyVersion { try await acceptPolicy(policyVersion, accountID: id, on: db) }
            } else {
                for try await (existing, verified) in try await db.query(
                    "SELECT id, email_verified_at IS NOT NULL FROM accounts WHERE email = \(email) FOR UPDATE", logger: logger
                ).decode((UUID, Bool).self) {
                    accountID = existing
                    outcome = verified ? .existingVerified : .existingUnverified
                }
            }
            switch outcome {
            case .created: try await storeToken(token, accountID: accountID, purpose: .verifyEmail, email: email, lifetime: lifetime, on: db)
            case .existingUnverified:
                try await storeToken(token, accountID: accountID, purpose: .resetPassword, email: email, lifetime: claimLifetime, on: db)
            case .existingVerified: break
            }
            try await queue.enqueue(try mail(outcome, token), on: db)
            return outcome
        }
    }

    /// A new link for the signed-in account (replacing its older one of that purpose) and its mail, in one transaction.
    /// Returns false, with nothing written, when the account is gone or (`.verifyEmail`) already verified.
    package func issueToken(
        accountID: UUID, purpose: AccountTokenPurpose, email: String, lifetime: Duration, mail: @escaping @Sendable (_ token: String) throws -> [NewJob]
    ) async throws -> Bool {
        let queue = JobQueue(client: client, logger: logger)
        let token = newLinkToken()
        return try await client.withTransaction(logger: logger) { db in
            var wanted = false
            for try await verified in try await db.query(
                "SELECT email_verified_at IS NOT NULL FROM accounts WHERE id = \(accountID) FOR UPDATE", logger: logger
            ).decode(Bool.self) { wanted = purpose != .verifyEmail || !verified }
            guard wanted else { return false }
            try await storeToken(token, accountID: accountID, purpose: purpose, email: email, lifetime: lifetime, on: db)
            try await queue.enqueue(try mail(token), on: db)
            return true
        }
    }

    /// A password-reset link for `email` when it has an account, else the same work minus the write: a token is made and
    /// hashed either way and one transaction runs; `mail` is called (and its jobs queued) only for a known address.
    package func requestPasswordReset(email: String, lifetime: Duration, mail: @escaping @Sendable (_ token: String) throws -> [NewJob]) async throws {
        let queue = JobQueue(client: client, logger: logger)
        let token = newLinkToken()
        let hash = Self.tokenHash(token)
        try await client.withTransaction(logger: logger) { db in
            var account: UUID?
            for try await id in try await db.query("SELECT id FROM accounts WHERE email = \(email) FOR UPDATE", logger: logger).decode(UUID.self) {
                account = id
            }
            guard let account else { return }
            try await storeToken(hash: hash, accountID: account, purpose: .resetPassword, email: email, lifetime: lifetime, on: db)
            try await queue.enqueue(try mail(token), on: db)
        }
    }

    /// A change-of-email link to `newEmail`, or — when that address already has an account — no token and the note `mail`
    /// makes for it (`token` nil). One transaction, one enqueue, in both cases.
    package func requestEmailChange(
        accountID: UUID, newEmail: String, lifetime: Duration, mail: @escaping @Sendable (_ token: String?) throws -> [NewJob]
    ) async throws {
        let queue = JobQueue(client: client, logger: logger)
        let token = newLinkToken()
        try await client.withTransaction(logger: logger) { db in
            var taken = false
            for try await _ in try await db.query("SELECT 1 FROM accounts WHERE email = \(newEmail)", logger: logger).decode(Int32.self) { taken = true }
            if !taken { try await storeToken(token, accountID: accountID, purpose: .changeEmail, email: newEmail, lifetime: lifetime, on: db) }
            try await queue.enqueue(try mail(taken ? nil : token), on: db)
        }
    }

    /// Consumes a verification or change-of-email link and acts on it, queueing `notices` for what it did (the old address
    /// is told of a change). Nil for an unknown, expired or used token, or one sent to an address the account no longer
    /// has. Throws `NewEmailTaken` (nothing changed, the token kept) when a change's new address was taken meanwhile.
    package func consumeVerification(
        token: String, notices: @escaping @Sendable (ConsumedToken) throws -> [NewJob]
    ) async throws -> ConsumedToken? {
        let queue = JobQueue(client: client, logger: logger)
        return try await client.withTransaction(logger: logger) { db -> ConsumedToken? in
            guard let found = try await consume(token, purposes: [.verifyEmail, .changeEmail], on: db) else { return nil }
            let (accountID, purpose, email, current) = found
            let done: ConsumedToken
            if purpose == .verifyEmail {
                guard email == current else { return nil }
                try await db.query(
                    "UPDATE accounts SET email_verified_at = COALESCE(email_verified_at, now()) WHERE id = \(accountID)", logger: logger)
                done = .verified(email: email)
            } else {
                for try await _ in try await db.query("SELECT 1 FROM accounts WHERE email = \(email)", logger: logger).decode(Int32.self) {
                    throw NewEmailTaken()
                }
                try await db.query("UPDATE accounts SET email = \(email), email_verified_at = now() WHERE id = \(accountID)", logger: logger)
                // Links mailed to the old address must not act on the new one.
                try await db.query("DELETE FROM account_tokens WHERE account_id = \(accountID)", logger: logger)
                done = .emailChanged(old: current, new: email)
            }
            try await queue.enqueue(try notices(done), on: db)
            return done
        }
    }

    /// Consumes a password-reset link: sets `passwordHash`, marks the address verified (the link proved it), ends every
    /// session of the account and every other link of it, and queues `notices`, in one transaction. Returns the account's email, or nil for a bad token.
    package func consumePasswordReset(
        token: String, passwordHash: String, notices: @escaping @Sendable (_ email: String) throws -> [NewJob]
    ) async throws -> String? {
        let queue = JobQueue(client: client, logger: logger)
        let sessions = SessionStore(client: client, logger: logger)
        return try await client.withTransaction(logger: logger) { db -> String? in
            guard let found = try await consume(token, purposes: [.resetPassword], on: db) else { return nil }
            let (accountID, _, email, current) = found
            guard email == current else { return nil }
            try await db.query(
                """
                UPDATE accounts SET password_hash = \(passwordHash), email_verified_at = COALESCE(email_verified_at, now())
                WHERE id = \(accountID)
                """, logger: logger)
            try await sessions.deleteAll(accountID: accountID, on: db)
            // Every other link still out (a verification made for whoever signed up first, a change of email asked for by
            // whoever held the old password) stops working.
            try await db.query("DELETE FROM account_tokens WHERE account_id = \(accountID)", logger: logger)
            try await queue.enqueue(try notices(email), on: db)
            return email
        }
    }

    /// Whether the account's address is verified (false for an unknown account).
    package func emailVerified(accountID: UUID) async throws -> Bool {
        for try await verified in try await client.query(
            "SELECT email_verified_at IS NOT NULL FROM accounts WHERE id = \(accountID)", logger: logger
        ).decode(Bool.self) { return verified }
        return false
    }

    /// Deletes links past their expiry (the hourly purge). Returns how many.
    package func purgeExpiredTokens() async throws -> Int {
        try await client.deleteInBatches(
            """
            WITH gone AS (DELETE FROM account_tokens WHERE token_hash IN (
                SELECT token_hash FROM account_tokens WHERE expires_at <= now() LIMIT 1000) RETURNING 1)
            SELECT count(*) FROM gone
            """, batch: 1000, logger: logger)
    }

    /// For tests: makes the account's live links expire now, as if their lifetime had passed.
    package func expireTokens(accountID: UUID) async throws {
        try await client.query("UPDATE account_tokens SET expires_at = now() - interval '1 second' WHERE account_id = \(accountID)", logger: logger)
    }

    // MARK: Private

    private func storeToken(
        _ token: String, accountID: UUID, purpose: AccountTokenPurpose, email: String, lifetime: Duration, on db: DatabaseConnection
    ) async throws {
        try await storeToken(hash: Self.tokenHash(token), accountID: accountID, purpose: purpose, email: email, lifetime: lifetime, on: db)
    }

    private func storeToken(
        hash: ByteBuffer, accountID: UUID, purpose: AccountTokenPurpose, email: String, lifetime: Duration, on db: DatabaseConnection
    ) async throws {
        let milliseconds = lifetime.components.seconds * 1000 + lifetime.components.attoseconds / 1_000_000_000_000_000
        try await db.query(
            """
            INSERT INTO account_tokens (token_hash, account_id, purpose, email, expires_at)
            VALUES (\(hash), \(accountID), \(purpose.rawValue), \(email), now() + \(milliseconds) * interval '1 millisecond')
            ON CONFLICT (account_id, purpose) DO UPDATE SET
                token_hash = EXCLUDED.token_hash, email = EXCLUDED.email, expires_at = EXCLUDED.expires_at, created_at = now()
            """, logger: logger)
    }

    /// Deletes a live token of one of `purposes` and returns its account, purpose, address and the account's current address.
    private func consume(
        _ token: String, purposes: [AccountTokenPurpose], on db: DatabaseConnection
    ) async throws -> (UUID, AccountTokenPurpose, String, String)? {
        guard !token.isEmpty, token.utf8.count <= 128 else { return nil }
        let rows = try await db.query(
            """
            WITH used AS (
                DELETE FROM account_tokens WHERE token_hash = \(Self.tokenHash(token)) AND purpose = ANY(\(purposes.map(\.rawValue)))
                RETURNING account_id, purpose, email, expires_at
            )
            SELECT used.account_id, used.purpose, used.email, a.email FROM used JOIN accounts a ON a.id = used.account_id
            WHERE used.expires_at > now()
            """, logger: logger)
        for try await (account, purpose, email, current) in rows.decode((UUID, String, String, String).self) {
            guard let purpose = AccountTokenPurpose(rawValue: purpose) else { return nil }
            return (account, purpose, email, current)
        }
        return nil
    }
}
