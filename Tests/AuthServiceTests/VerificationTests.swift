import FlowtalkCore
import FlowtalkStore
import FlowtalkTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import AuthService

/// Sign-up's verification link, what an unverified account may do, and sign-ups for an address that has an account.
@Suite struct VerificationTests {
    @Test func signUpMailsAVerificationLinkThatVerifiesOnce() async throws {
        try await withAuth { client, database in
            let mailbox = Mailbox(database: database)
            let ana = Browser(client)
            try await ana.signUpAndIn("ana@example.com")
            #expect(try await ana.me().email_verified == false)
            let mails = try await mailbox.to("ana@example.com")
            #expect(mails.count == 1)
            let token = try await mailbox.token(to: "ana@example.com", page: "verify-email")
            #expect(try await ana.send(.post, "/api/auth/verify", #"{"token":"\#(token)"}"#).status == .ok)
            #expect(try await ana.me().email_verified == true)
            // Single use; a made-up token is refused the same way.
            for bad in [token, "not-a-token", ""] {
                let again = try await Browser(client).send(.post, "/api/auth/verify", #"{"token":"\#(bad)"}"#)
                #expect(again.status == .badRequest)
                #expect(errorCode(again) == "invalid_token")
            }
        }
    }

    @Test func anUnverifiedAccountCannotConnectInstagramUntilItVerifies() async throws {
        try await withAuth { client, database in
            let ana = Browser(client)
            try await ana.signUpAndIn("connect@example.com")
            let refused = try await ana.startInstagramConnect()
            #expect(refused.status == .forbidden)
            #expect(errorCode(refused) == "email_unverified")
            try await ana.verifyEmail("connect@example.com", Mailbox(database: database))
            let allowed = try await ana.startInstagramConnect()
            #expect(allowed.status == .ok, "\(allowed.status)")
        }
    }

    /// Someone signs up with the owner's address first (a squatter, who knows that password). A second sign-up answers
    /// alike and changes nothing, but mails the address a link to choose a password: opening it is how the owner takes the
    /// account over — the squatter's password and sessions end, and the address is verified. Verifying the account as it
    /// is would have handed it to whoever signed up first.
    @Test func aSecondSignUpForAnUnverifiedAddressLetsTheOwnerTakeItOver() async throws {
        try await withAuth { client, database in
            let mailbox = Mailbox(database: database)
            let squatter = Browser(client)
            let first = try await squatter.send(.post, "/api/auth/signup", #"{"email":"squat@example.com","password":"the first passphrase"}"#)
            let firstToken = try await mailbox.token(to: "squat@example.com", page: "verify-email")
            #expect(try await squatter.send(.post, "/api/auth/login", #"{"email":"squat@example.com","password":"the first passphrase"}"#).status == .ok)
            let owner = Browser(client)
            let second = try await owner.send(.post, "/api/auth/signup", #"{"email":"squat@example.com","password":"a second passphrase"}"#)
            #expect(second.status == first.status && String(buffer: second.body) == String(buffer: first.body))
            #expect(try await mailbox.to("squat@example.com").count == 2)
            // Nothing is taken over by the sign-up itself: the password is still the first one.
            #expect(try await owner.send(.post, "/api/auth/login", #"{"email":"squat@example.com","password":"a second passphrase"}"#).status == .unauthorized)
            // The mail is a link to choose a password; the owner uses it.
            let claim = try await mailbox.token(to: "squat@example.com", page: "reset-password")
            let set = try await owner.send(.post, "/api/auth/password-reset/confirm", #"{"token":"\#(claim)","password":"the owner's own passphrase"}"#)
            #expect(set.status == .ok)
            #expect(try await squatter.send(.get, "/api/auth/me").status == .unauthorized)
            #expect(try await squatter.send(.post, "/api/auth/login", #"{"email":"squat@example.com","password":"the first passphrase"}"#).status == .unauthorized)
            #expect(try await owner.send(.post, "/api/auth/login", #"{"email":"squat@example.com","password":"the owner's own passphrase"}"#).status == .ok)
            #expect(try await owner.me().email_verified)
            // The first verification link, made for the squatter's sign-up, no longer verifies anything.
            #expect(try await owner.send(.post, "/api/auth/verify", #"{"token":"\#(firstToken)"}"#).status == .badRequest)
        }
    }

    @Test func aSignUpForAVerifiedAddressAnswersLikeANewOneAndTellsTheOwner() async throws {
        try await withAuth { client, database in
            let mailbox = Mailbox(database: database)
            let owner = Browser(client)
            try await owner.signUpAndIn("owner@example.com")
            try await owner.verifyEmail("owner@example.com", mailbox)
            let stranger = Browser(client)
            let taken = try await stranger.send(.post, "/api/auth/signup", #"{"email":"owner@example.com","password":"a stranger passphrase"}"#)
            let fresh = try await stranger.send(.post, "/api/auth/signup", #"{"email":"fresh@example.com","password":"a stranger passphrase"}"#)
            #expect(taken.status == fresh.status && String(buffer: taken.body) == String(buffer: fresh.body))
            let note = try #require(try await mailbox.to("owner@example.com").last)
            #expect(note.subject.contains("tried to sign up"))
            #expect(!note.text.contains("token="))
            #expect(try await stranger.send(.post, "/api/auth/login", #"{"email":"owner@example.com","password":"a stranger passphrase"}"#).status == .unauthorized)
            #expect(try await owner.me().email_verified)
        }
    }

    @Test func theLinkCanBeSentAgainFromTheDashboard() async throws {
        try await withAuth { client, database in
            let mailbox = Mailbox(database: database)
            let ana = Browser(client)
            try await ana.signUpAndIn("again@example.com")
            let old = try await mailbox.token(to: "again@example.com", page: "verify-email")
            #expect(try await ana.send(.post, "/api/auth/verify/resend", "{}").status == .accepted)
            let new = try await mailbox.token(to: "again@example.com", page: "verify-email")
            #expect(new != old)
            #expect(try await ana.send(.post, "/api/auth/verify", #"{"token":"\#(old)"}"#).status == .badRequest)
            #expect(try await ana.send(.post, "/api/auth/verify", #"{"token":"\#(new)"}"#).status == .ok)
            // Verified: nothing more is sent.
            #expect(try await ana.send(.post, "/api/auth/verify/resend", "{}").status == .ok)
            #expect(try await mailbox.to("again@example.com").count == 2)
            #expect(try await Browser(client).send(.post, "/api/auth/verify/resend", "{}").status == .unauthorized)
        }
    }

    @Test func theLinkPagesServeTheDashboardWithoutReferrer() async throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Services/Dashboard").path
        try await withAuth(dashboardDirectory: folder) { client, _ in
            for page in ["/verify-email", "/reset-password", "/confirm-email"] {
                let response = try await client.execute(uri: page + "?token=abc", method: .get)
                #expect(response.status == .ok && response.headers[.contentType]?.hasPrefix("text/html") == true, "\(page)")
                #expect(String(buffer: response.body).contains("/js/main.js"), "\(page)")
                #expect(response.headers[HTTPField.Name("Referrer-Policy")!] == "no-referrer", "\(page)")
            }
        }
    }

    @Test func changingThePasswordMailsANotice() async throws {
        try await withAuth { client, database in
            let ana = Browser(client)
            try await ana.signUpAndIn("notice@example.com")
            let change = try await ana.send(
                .post, "/api/auth/password", #"{"current_password":"correct horse battery","new_password":"a brand new passphrase"}"#)
            #expect(change.status == .noContent)
            let notice = try #require(try await Mailbox(database: database).to("notice@example.com").last)
            #expect(notice.subject == "Your Flowtalk password was changed")
            #expect(notice.text.contains("If this was not you"))
        }
    }
}
