import FlowtalkCore
import FlowtalkHTTP
import FlowtalkTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import AuthService

/// `TRUSTED_PROXIES` with CIDR ranges, and the rate-limit key of a client: its IPv4 address, or its IPv6 /64.
@Suite struct ClientAddressTests {
    @Test func proxiesAreAddressesOrCIDRRangesOfEitherFamily() throws {
        let proxies = try TrustedProxies(parsing: "10.0.0.0/8, fd00::/8, 192.0.2.7, 2001:db8::1")
        for trusted in ["10.1.2.3", "10.255.255.255", "::ffff:10.9.9.9", "fd12:3456::1", "192.0.2.7", "2001:db8::1"] {
            #expect(proxies.contains(trusted), "\(trusted)")
        }
        for untrusted in ["11.0.0.1", "192.0.2.8", "fe80::1", "2001:db8::2", "not an address", "10.0.0.0/8"] {
            #expect(!proxies.contains(untrusted), "\(untrusted)")
        }
        #expect(try TrustedProxies(parsing: "0.0.0.0/0").contains("203.0.113.9"))
        #expect(try TrustedProxies(parsing: "").isEmpty)
    }

    @Test(arguments: ["10.0.0.0/33", "fd00::/129", "10.0.0/8", "10.0.0.1/x", "proxy.internal", "10.0.0.0/8/8", "fd00::/-1"])
    func aMalformedEntryIsAClearError(entry: String) {
        do {
            _ = try TrustedProxies(parsing: "192.0.2.1, \(entry)")
            Issue.record("accepted \(entry)")
        } catch {
            #expect("\(error)".contains("TRUSTED_PROXIES"))
        }
    }

    @Test func theClientIsTheLastHopThatIsNoTrustedProxy() throws {
        let proxies = try TrustedProxies(parsing: "10.0.0.0/8")
        #expect(proxies.clientAddress(peer: "10.0.0.5", forwardedFor: "203.0.113.1, 198.51.100.2, 10.0.0.9") == "198.51.100.2")
        // A peer that is no proxy: its X-Forwarded-For is ignored.
        #expect(proxies.clientAddress(peer: "198.51.100.2", forwardedFor: "203.0.113.1") == "198.51.100.2")
    }

    @Test func ipv6ClientsShareTheirSlash64AndMappedIPv4IsIPv4() throws {
        let proxies = TrustedProxies.none
        let a = proxies.rateLimitKey(peer: "2001:db8:1:2::1", forwardedFor: nil)
        let b = proxies.rateLimitKey(peer: "2001:db8:1:2:ffff:ffff:ffff:ffff", forwardedFor: nil)
        let other = proxies.rateLimitKey(peer: "2001:db8:1:3::1", forwardedFor: nil)
        #expect(a == b)
        #expect(a != other)
        #expect(a == "2001:db8:1:2::/64")
        #expect(proxies.rateLimitKey(peer: "::ffff:192.0.2.1", forwardedFor: nil) == "192.0.2.1")
        #expect(proxies.rateLimitKey(peer: "192.0.2.1", forwardedFor: nil) == "192.0.2.1")
        #expect(proxies.rateLimitKey(peer: "192.0.2.2", forwardedFor: nil) != "192.0.2.1")
    }

    /// Behind a load-balancer pool named by a range, each client has its own sign-up bucket; the addresses of one IPv6
    /// /64 share one.
    @Test func signUpLimitsCountClientsBehindARangeOfProxies() async throws {
        try await TestDatabase.withFresh { database in
            let common = CommonConfiguration(database: database.configuration, port: 0, trustedProxies: try TrustedProxies(parsing: "127.0.0.0/8"))
            let configuration = AuthConfiguration(
                common: common, passwordPepper: TestSecrets.passwordPepper, bcryptCost: TestSecrets.bcryptCost, instagram: TestSecrets.instagram(),
                vault: TokenVault.testing().vault)
            try await buildApplication(configuration: configuration, logger: .quiet("auth")).test(.live) { client in
                try await waitUntilReady(client)
                func signUp(_ n: Int, from address: String) async throws -> HTTPResponse.Status {
                    try await client.execute(
                        uri: "/api/auth/signup", method: .post,
                        headers: [.origin: origin, .contentType: "application/json", .forwardedFor: "\(address), 127.0.0.2"],
                        body: ByteBuffer(string: #"{"email":"c\#(n)@example.com","password":"correct horse battery"}"#)
                    ).status
                }
                // Ten sign-ups an hour per client (AccountController), each from a fresh address of the same /64.
                for n in 0..<10 { #expect(try await signUp(n, from: "2001:db8:7:7::\(n + 1)") == .created) }
                #expect(try await signUp(10, from: "2001:db8:7:7::99") == .tooManyRequests)
                // Another client behind the same proxies is not held back by the first one.
                #expect(try await signUp(11, from: "198.51.100.20") == .created)
            }
        }
    }
}
