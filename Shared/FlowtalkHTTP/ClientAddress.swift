import FlowtalkCore
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address as 16 bytes (IPv4 as the IPv4-mapped IPv6 address `::ffff:a.b.c.d`), so one comparison
/// covers both families and `::ffff:10.0.0.1` is the same client as `10.0.0.1`.
package struct IPAddress: Hashable, Sendable {
    package let bytes: [UInt8]

    /// Parses `10.0.0.1`, `fd00::1`, `[fd00::1]` or `::ffff:10.0.0.1`; nil for anything else (a zone id included).
    package init?(_ text: some StringProtocol) {
        var text = String(text)
        if text.hasPrefix("["), text.hasSuffix("]") { text = String(text.dropFirst().dropLast()) }
        var v4 = in_addr()
        var v6 = in6_addr()
        if text.contains(":") {
            guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
        } else {
            guard inet_pton(AF_INET, text, &v4) == 1 else { return nil }
            bytes = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] + withUnsafeBytes(of: &v4) { Array($0) }
        }
    }

    /// True for IPv4 and IPv4-mapped IPv6 addresses.
    package var isIPv4: Bool { bytes.prefix(12).elementsEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]) }

    /// True when the first `bits` bits of both addresses are equal.
    func sharesPrefix(with other: IPAddress, bits: Int) -> Bool {
        let whole = bits / 8
        guard bytes.prefix(whole).elementsEqual(other.bytes.prefix(whole)) else { return false }
        let rest = bits % 8
        guard rest > 0 else { return true }
        let mask = UInt8(0xFF) << (8 - rest)
        return bytes[whole] & mask == other.bytes[whole] & mask
    }

    /// The rate-limit key of a client at this address: the address itself for IPv4, its /64 network for IPv6 (one
    /// subscriber's allocation, so rotating through a /64 does not buy more tries).
    package var rateLimitKey: String {
        if isIPv4 { return bytes.suffix(4).map(String.init).joined(separator: ".") }
        let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
        return groups.joined(separator: ":") + "::/64"
    }
}

/// `TRUSTED_PROXIES`: the proxies (addresses or CIDR ranges, IPv4 and IPv6) whose `X-Forwarded-For` and
/// `X-Forwarded-Proto` are believed. Everyone else's forwarded headers are ignored.
package struct TrustedProxies: Sendable, Equatable {
    struct Range: Sendable, Equatable {
        let network: IPAddress
        let bits: Int
    }
    let ranges: [Range]

    /// Trusts no proxy.
    package static let none = TrustedProxies(ranges: [])

    private init(ranges: [Range]) { self.ranges = ranges }

    /// Parses a comma-separated list such as `10.0.0.0/8, fd00::/8, 192.0.2.7`; a malformed entry is a
    /// configuration error naming `TRUSTED_PROXIES`.
    package init(parsing list: String) throws {
        var ranges: [Range] = []
        for entry in list.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !entry.isEmpty {
            let parts = entry.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2, let address = IPAddress(parts[0]) else {
                throw ConfigurationError.malformed("TRUSTED_PROXIES", "expected IP addresses or CIDR ranges such as 10.0.0.0/8 or fd00::/8")
            }
            let familyBits = parts[0].contains(":") ? 128 : 32
            var bits = familyBits
            if parts.count == 2 {
                guard let prefix = Int(parts[1]), (0...familyBits).contains(prefix) else {
                    throw ConfigurationError.malformed("TRUSTED_PROXIES", "a CIDR prefix length must be 0...\(familyBits)")
                }
                bits = prefix
            }
            // An IPv4 range is matched on the IPv4-mapped form: its prefix starts after the 96 mapping bits.
            ranges.append(Range(network: address, bits: address.isIPv4 && familyBits == 32 ? bits + 96 : bits))
        }
        self.ranges = ranges
    }

    /// Reads `TRUSTED_PROXIES` (unset: no proxy is trusted).
    package init(environment: ConfigEnvironment) throws {
        try self.init(parsing: environment.optional("TRUSTED_PROXIES") ?? "")
    }

    package var isEmpty: Bool { ranges.isEmpty }

    /// True when `address` (text, as the socket or a header gives it) is a trusted proxy.
    package func contains(_ address: String?) -> Bool {
        guard let address, let ip = IPAddress(address) else { return false }
        return ranges.contains { ip.sharesPrefix(with: $0.network, bits: $0.bits) }
    }

    /// The client's address: the socket peer, or — only when the peer is a trusted proxy — the last address in
    /// `X-Forwarded-For` that is not itself a trusted proxy. A client-sent `X-Forwarded-For` never changes the result.
    package func clientAddress(peer: String?, forwardedFor: String?) -> String {
        let peer = peer ?? "unknown"
        guard contains(peer), let forwardedFor else { return peer }
        let hops = forwardedFor.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return hops.last(where: { !contains($0) }) ?? peer
    }

    /// The key a rate limit counts a request under: `clientAddress` with IPv6 clients grouped by /64 and IPv4-mapped
    /// addresses written as IPv4. Text that is no address (a proxy's garbage) is kept, bounded.
    package func rateLimitKey(peer: String?, forwardedFor: String?) -> String {
        let address = clientAddress(peer: peer, forwardedFor: forwardedFor)
        return IPAddress(address)?.rateLimitKey ?? String(address.prefix(64))
    }
}
