import FlowtalkCore
import FlowtalkStore
import FlowtalkTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

@testable import AuthService

/// "Forgot password" and the change of email.
@Suite struct RecoveryTests {
    static let password = "correct horse battery"

    @Test func aResetAnswersAlikeForEveryAddressAndItsLinkWorksOnceAndEndsEverySession() async throws {
        try await withAuth { client, database in
            let mailbox = Mailbox(database: database)
            let phone = Browser(client)
            let laptop = Browser(client)
            try await phone.signUpAndIn("reset@example.com")
            _ = try await laptop.send(.post, "/api/auth/login", #"{"email":"reset@example.com","password":"\#(Self.password)"}"#)
            let stranger = Browser(client)
            let known = try await stranger.send(.post, "/api/auth/password-reset", #"{"email":"reset@example.com"}"#)
            let unknown = try await stranger.send(.post, "/api/auth/password-reset", #"{"email":"nobody@example.com"}"#)
            #expect(known.status == .accepted && unknown.status == .accepted)
            #expect(String(buffer: known.body) == String(buffer: unknown.body))
            #expect(try await mailbox.to("nobody@example.com").isEmpty)
            let token = try await mailbox.token(to: "reset@example.com", page: "reset-password")

            let confirm = #"{"token":"\#(token)","password":"a fresh reset passphrase"}"#
            #expect(try await stranger.send(.post, "/api/auth/password-reset/confirm", confirm).status == .ok)
            for device in [phone, laptop] { #expect(try await device.send(.get, "/api/auth/me").status == .unauthorized) }
            let again = try await stranger.send(.post, "/api/auth/password-reset/confirm", #"{"token":"\#(token)","password":"yet another passphrase"}"#)
            #expect(again.status == .badRequest && errorCode(again) == "invalid_token")
            #expect(try await stranger.send(.post, "/api/auth/login", #"{"email":"reset@example.com","password":"\#(Self.password)"}"#).status == .unauthorized)
            #expect(try await stranger.send(.post, "/api/auth/login", #"{"email":"reset@example.com","password":"a fresh reset passphrase"}"#).status == .ok)
            // The link proved the address; the owner is told.
            #expect(try await stranger.me().email_verified)
            #expect(try await mailbox.to("reset@example.com").last?.subject == "Your Flowtalk password was changed")
        }
    }

    @Test func anExpiredResetLinkIsRefusedAndARefusedPasswordDoesNotUseUpTheLink() async throws {
        try await withAuth { client, database in
            let mailbox = Mailbox(database: database)
            let ana = Browser(client)
            try await ana.signUpAndIn("expire@example.com")
            let accountID = try #require(UUID(uuidString: try await ana.me().id))
            _ = try await ana.send(.post, "/api/auth/password-reset", #"{"email":"expire@example.com"}"#)
            let token = try await mailbox.token(to: "expire@example.com", page: "reset-password")
            let weak = try await ana.send(.post, "/api/auth/password-reset/confirm", #"{"token":"\#(token)","password":"short"}"#)
            #expect(errorCode(weak) == "password_too_short")
            try await database.withClient { client in
                try await AccountStore(client: Database(client), logger: .quiet("store")).expireTokens(accountID: accountID)
            }
            let late = try await ana.send(.post, "/api/auth/password-reset/confirm", #"{"token":"\#(token)","password":"a fresh reset passphrase"}"#)
            #expect(late.status == .badRequest && errorCode(late) == "invalid_token")
            #expect(try await ana.send(.get, "/api/auth/me").status == .ok)
            #expect(try await ana.send(.post, "/api/auth/login", #"{"email":"expire@example.com","password":"\#(Self.password)"}"#).status == .ok)
        }
    }

    @Test func resetRequestsAreRateLimitedPerAddress() async throws {
        try await withAuth { client, _ in
            let browser = Browser(client)
            var statuses: [HTTPResponse.Status] = []
            // Under the per-client limit (10 an hour): the per-address one (5 an hour) answers the sixth.
            for _ in 0..<6 {
                statuses.append(try await browser.send(.post, "/api/auth/password-reset", #"{"email":"limit@example.com"}"#).status)
            }
            #expect(statuses.prefix(5).allSatisfy { $0 == .accepted })
            #expect(statuses.last == .tooManyRequests)
        }
    }

    @Test func aChangeOfEmailNeedsThePasswordAndTakesEffectOnlyAtTheLink() async throws {
        try await withAuth { client, database in
            let mailbox = Mailbox(database: database)
            let ana = Browser(client)
            try await ana.signUpAndIn("old@example.com")
            let wrong = try await ana.send(.post, "/api/account/email", #"{"email":"new@example.com","password":"not the password"}"#)
            #expect(wrong.status == .unauthorized && errorCode(wrong) == "invalid_credentials")
            #expect(try await mailbox.to("new@example.com").isEmpty)
            #expect(try await ana.send(.post, "/api/account/email", #"{"email":"New@Example.com","password":"\#(Self.password)"}"#).status == .accepted)
            #expect(try await ana.me().email == "old@example.com")
            try await ana.verifyEmail("new@example.com", mailbox, page: "confirm-email")
            let me = try await ana.me()
            #expect(me.email == "new@example.com" && me.email_verified)
            let notice = try #require(try await mailbox.to("old@example.com").last)
            #expect(notice.subject == "Your Flowtalk email address was changed" && notice.text.contains("new@example.com"))
            #expect(try await ana.send(.post, "/api/auth/login", #"{"email":"new@example.com","password":"\#(Self.password)"}"#).status == .ok)
            #expect(try await ana.send(.post, "/api/auth/login", #"{"email":"old@example.com","password":"\#(Self.password)"}"#).status == .unauthorized)
        }
    }

    @Test func aChangeToATakenAddressAnswersAlikeAndSendsItNoLink() async throws {
        try await withAuth { client, database in
            let mailbox = Mailbox(database: database)
            let ana = Browser(client)
            try await ana.signUpAndIn("ana@example.com")
            try await Browser(client).signUpAndIn("bob@example.com")
            let taken = try await ana.send(.post, "/api/account/email", #"{"email":"bob@example.com","password":"\#(Self.password)"}"#)
            let free = try await ana.send(.post, "/api/account/email", #"{"email":"free@example.com","password":"\#(Self.password)"}"#)
            #expect(taken.status == .accepted && free.status == .accepted)
            #expect(String(buffer: taken.body) == String(buffer: free.body))
            let toBob = try await mailbox.to("bob@example.com")
            #expect(toBob.count == 2)  // the sign-up link, then a note without a link
            #expect(toBob.last.map { !$0.text.contains("token=") } == true)
            #expect(try await ana.me().email == "ana@example.com")
        }
    }

    @Test func aNewAddressTakenBeforeTheLinkIsOpenedIsAClearConflictAndChangesNothing() async throws {
        try await withAuth { client, database in
            let mailbox = Mailbox(database: database)
            let ana = Browser(client)
            try await ana.signUpAndIn("ana@example.com")
            #expect(try await ana.send(.post, "/api/account/email", #"{"email":"race@example.com","password":"\#(Self.password)"}"#).status == .accepted)
            let token = try await mailbox.token(to: "race@example.com", page: "confirm-email")
            try await Browser(client).signUpAndIn("race@example.com")
            let conflict = try await ana.send(.post, "/api/auth/verify", #"{"token":"\#(token)"}"#)
            #expect(conflict.status == .conflict && errorCode(conflict) == "email_taken")
            #expect(try await ana.me().email == "ana@example.com")
            #expect(try await mailbox.to("ana@example.com").allSatisfy { !$0.subject.contains("changed") })
        }
    }
}
