import Foundation
import Synchronization

/// Ports for the services a test starts.
///
/// Not from the kernel's ephemeral range: every outgoing connection (a pool's connection to PostgreSQL, an HTTP client's)
/// takes a local port from there, so a port picked in it can be taken by such a connection before the service binds
/// it; the service then cannot listen (CI saw replicas that never became ready this way). Never the same port twice in
/// one test process, and only one that binds now.
package enum FreePorts {
    private static let handedOut = Mutex<Set<Int>>([])

    package static func next() throws -> Int {
        let range = usable()
        for _ in 0..<1_000 {
            let port = Int.random(in: range)
            guard handedOut.withLock({ $0.insert(port).inserted }) else { continue }
            if canBind(port) { return port }
        }
        throw NoFreePort(range: range)
    }

    /// Below the ephemeral range when there is room there, else above it (`/proc/sys/net/ipv4/ip_local_port_range`).
    static func usable() -> ClosedRange<Int> {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let bounds = text.split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
        guard bounds.count == 2 else { return 10_000...32_000 }
        if bounds[0] - 1 - 10_000 >= 2_000 { return 10_000...(bounds[0] - 1) }
        if 65_535 - (bounds[1] + 1) >= 2_000 { return (bounds[1] + 1)...65_535 }
        return 10_000...65_535
    }

    private static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    struct NoFreePort: Error, CustomStringConvertible {
        let range: ClosedRange<Int>
        var description: String { "no free port in \(range)" }
    }
}
