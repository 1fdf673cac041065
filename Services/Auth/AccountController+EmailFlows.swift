import FlowtalkCore
import FlowtalkHTTP
import FlowtalkStore
import Foundation
import Hummingbird
import Logging

/// The mailed-link flows: verifying an address, forgotten passwords, and a change of email. Every route is rate limited;
/// none tells whether an address has an account (same status, body and work).
extension AccountController {
    func addEmailFlows(auth: RouterGroup<AuthRequestContext>, api: RouterGroup<AuthRequestContext>) {
        auth.post("verify", use: verify)
        auth.post("verify/resend", use: resendVerification)
        auth.post("password-reset", use: requestPasswordReset)
        auth.post("password-reset/confirm", use: confirmPasswordReset)
        api.post("account/email", use: changeEmail)
    }

    struct TokenBody: Decodable { let token: String }
    struct EmailBody: Decodable { let email: String }
    struct ResetBody: Decodable {
        let token: String
        let password: String
    }
    struct LinkAnswer: Encodable {
        let status: String
        let message: String
    }

    static let invalidToken = APIError.badRequest(
        "This link is invalid, has expired or was used already. Ask for a new one.", code: "invalid_token")

    /// A verification or change-of-email link: the address is verified, or the account's email becomes the new one (and
    /// the old address is told).
    func verify(_ request: Request, context: AuthRequestContext) async throws -> Response {
        try await limiter.enforce("verify:ip:\(address(request, context))", limit: 30, window: .seconds(900))
        let body = try await request.decode(as: TokenBody.self, context: context)
        let done: ConsumedToken?
        do {
            done = try await accounts.consumeVerification(token: body.token) { [mails] change in
                guard case .emailChanged(let old, let new) = change else { return [] }
                return [try mails.job(mails.emailChanged(to: old, newEmail: new))]
            }
        } catch is NewEmailTaken {
            throw APIError(
                .conflict, code: "email_taken",
                message: "This address now belongs to another account, so your email was not changed. Choose another address.")
        }
        switch done {
        case nil:
            context.logger.notice("Mailed link refused")
            throw Self.invalidToken
        case .verified?:
            context.logger.info("Email verified")
            return try JSONResponse.make(LinkAnswer(status: "verified", message: "Your email address is verified."), status: .ok)
        case .emailChanged?:
            context.logger.info("Email changed")
            return try JSONResponse.make(LinkAnswer(status: "email_changed", message: "Your email address was changed and is verified."), status: .ok)
        }
    }

    /// Sends the signed-in account's verification link again (a new link; the older one stops working).
    func resendVerification(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let session = try context.requireSession()
        try await limiter.enforce("verify-resend:account:\(session.accountID)", limit: 5, window: .seconds(3600))
        guard let email = try await accounts.credentials(accountID: session.accountID)?.email else { throw APIError.unauthorized("Please sign in.") }
        let sent = try await accounts.issueToken(
            accountID: session.accountID, purpose: .verifyEmail, email: email, lifetime: AccountMails.verificationLifetime
        ) { [mails] token in [try mails.job(mails.verify(to: email, token: token))] }
        guard sent else {
            return try JSONResponse.make(LinkAnswer(status: "already_verified", message: "Your email address is verified already."), status: .ok)
        }
        return try JSONResponse.make(LinkAnswer(status: "sent", message: "We sent a new link to \(email)."), status: .accepted)
    }

    /// 202 whatever the address: a known one gets a reset link (30 minutes, single use).
    func requestPasswordReset(_ request: Request, context: AuthRequestContext) async throws -> Response {
        try await limiter.enforce("reset:ip:\(address(request, context))", limit: 10, window: .seconds(3600))
        let body = try await request.decode(as: EmailBody.self, context: context)
        let email = try Self.canonicalEmail(body.email)
        try await limiter.enforce("reset:email:\(email)", limit: 5, window: .seconds(3600))
        try await accounts.requestPasswordReset(email: email, lifetime: AccountMails.resetLifetime) { [mails] token in
            [try mails.job(mails.reset(to: email, token: token))]
        }
        context.logger.info("Password reset requested")
        return try JSONResponse.make(
            LinkAnswer(status: "accepted", message: "If an account exists for this address, we sent it a link to set a new password. It works for 30 minutes."),
            status: .accepted)
    }

    /// Sets a new password with a reset link: every session of the account ends, the address counts as verified, and a
    /// notice is mailed.
    func confirmPasswordReset(_ request: Request, context: AuthRequestContext) async throws -> Response {
        try await limiter.enforce("reset-confirm:ip:\(address(request, context))", limit: 20, window: .seconds(900))
        let body = try await request.decode(as: ResetBody.self, context: context)
        // The policy first: a refused password does not use up the link.
        try Self.checkPasswordPolicy(body.password)
        let hash = try await hashOffLoop(body.password)
        let email = try await accounts.consumePasswordReset(token: body.token, passwordHash: hash) { [mails] email in
            [try mails.job(mails.passwordChanged(to: email))]
        }
        guard email != nil else {
            context.logger.notice("Mailed link refused")
            throw Self.invalidToken
        }
        context.logger.info("Password reset")
        var response = try JSONResponse.make(
            LinkAnswer(status: "password_changed", message: "Your password was changed and every device signed out. Sign in with the new one."),
            status: .ok)
        response.setCookie(cookies.expired())
        return response
    }

    /// 202 whatever the new address: a free one gets a link (the email changes when it is opened), one that has an
    /// account gets a note and no link.
    func changeEmail(_ request: Request, context: AuthRequestContext) async throws -> Response {
        let session = try context.requireSession()
        try await limiter.enforce("email-change:account:\(session.accountID)", limit: 10, window: .seconds(3600))
        let body = try await request.decode(as: Credentials.self, context: context)
        let newEmail = try Self.canonicalEmail(body.email)
        guard let current = try await accounts.credentials(accountID: session.accountID) else { throw APIError.unauthorized("Please sign in.") }
        guard try await verifyOffLoop(body.password, current.passwordHash) else {
            throw APIError.unauthorized("The password is incorrect.", code: "invalid_credentials")
        }
        guard newEmail != current.email else { throw APIError.badRequest("This is your email address already.", code: "same_email") }
        try await accounts.requestEmailChange(accountID: session.accountID, newEmail: newEmail, lifetime: AccountMails.verificationLifetime) {
            [mails] token in
            [try mails.job(token.map { mails.confirmNewEmail(to: newEmail, token: $0) } ?? mails.changeToTakenAddress(to: newEmail))]
        }
        context.logger.info("Email change requested")
        return try JSONResponse.make(
            LinkAnswer(status: "accepted", message: "We sent a link to the new address. Your email changes when you open it."), status: .accepted)
    }
}
