import FlowtalkStore
import FlowtalkTesting
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PostgresNIO
import Testing

@testable import AuthService

/// Issue 12: 11 wrong tries every 15 minutes kept the owner out for good. Only failures count now, per (email, client).
@Suite struct SignInLockoutTests {
    @Test func strangersFailingOnPurposeDoNotKeepTheOwnerOut() async throws {
        // A first wait of a minute, so however slow this machine, the slowed-down client is still waiting when it tries.
        try await withAuth(trustedProxies: ["127.0.0.1"], framework: .live, signInBaseDelaySeconds: 60) { client, _ in
            let owner = Browser(client)
            try await owner.signUpAndIn("owner@shop.com")
            // Strangers at twelve addresses fail three times each, well past the old ten-per-email limit.
            for stranger in 0..<12 {
                for guess in 0..<3 {
                    let response = try await Browser(client).send(
                        .post, "/api/auth/login", #"{"email":"owner@shop.com","password":"guess \#(stranger)-\#(guess)"}"#,
                        headers: [.forwardedFor: "203.0.113.\(stranger)"])
                    #expect(response.status == .unauthorized)
                }
            }
            // One of them is now slowed down, even with the right password...
            let slowed = try await Browser(client).send(
                .post, "/api/auth/login", #"{"email":"owner@shop.com","password":"correct horse battery"}"#, headers: [.forwardedFor: "203.0.113.5"])
            #expect(slowed.status == .tooManyRequests && Int(slowed.headers[.retryAfter] ?? "") ?? 0 >= 1)
            // ...but the owner, from their own address, signs in.
            let login = try await owner.send(
                .post, "/api/auth/login", #"{"email":"owner@shop.com","password":"correct horse battery"}"#, headers: [.forwardedFor: "198.51.100.20"])
            #expect(login.status == .ok)
        }
    }

    /// A correct sign-in is not counted: signing in and out all day never slows the owner down.
    @Test func signingInManyTimesIsNotThrottled() async throws {
        try await withAuth { client, _ in
            let owner = Browser(client)
            try await owner.signUpAndIn("daily@shop.com")
            for _ in 0..<15 {
                #expect(try await owner.send(.post, "/api/auth/login", #"{"email":"daily@shop.com","password":"correct horse battery"}"#).status == .ok)
            }
        }
    }
}
