import Crypto
import Foundation
import HummingbirdBcrypt

/// Why a password was refused before any hashing.
package enum PasswordError: Error, Equatable {
    case tooLong
    case containsNUL
}

/// bcrypt password hashing without bcrypt's silent truncation.
///
/// bcrypt reads at most 72 bytes and stops at a NUL byte, so two long passwords sharing a prefix would collide. We
/// store `v1$` + bcrypt(base64(HMAC-SHA-384(pepper, password))): 64 ASCII characters, never a NUL, every byte of the
/// password counts. The pepper is a server secret kept outside the database. The `v1$` prefix leaves room to rotate.
package struct PasswordHasher: Sendable {
    /// The most bytes of password accepted; longer input is refused before any work.
    package static let maximumBytes = 1024
    /// bcrypt's work factor.
    package let cost: UInt8
    private let pepper: SymmetricKey

    /// A hasher with a bcrypt cost (4...31; production uses 12) and a pepper.
    package init(cost: Int, pepper: Secret<String>) throws {
        guard (4...31).contains(cost) else { throw ConfigurationError.malformed("BCRYPT_COST", "expected 4...31") }
        self.cost = UInt8(cost)
        self.pepper = SymmetricKey(data: SHA256.hash(data: Array(pepper.value.utf8)))
    }

    private func prehash(_ password: String) throws -> String {
        let bytes = Array(password.utf8)
        guard bytes.count <= Self.maximumBytes else { throw PasswordError.tooLong }
        guard !bytes.contains(0) else { throw PasswordError.containsNUL }
        return Data(HMAC<SHA384>.authenticationCode(for: bytes, using: pepper)).base64EncodedString()
    }

    /// The stored form of a password. CPU-heavy: call it off the event loop.
    package func hash(_ password: String) throws -> String {
        "v1$" + Bcrypt.hash(try prehash(password), cost: cost)
    }

    /// Whether `password` matches `stored`. Unknown formats never match.
    package func verify(_ password: String, against stored: String) -> Bool {
        guard stored.hasPrefix("v1$"), let prehashed = try? prehash(password) else { return false }
        return Bcrypt.verify(prehashed, hash: String(stored.dropFirst(3)))
    }

    /// Whether a stored hash was made with another cost or format and should be replaced at the next login.
    package func needsRehash(_ stored: String) -> Bool {
        let parts = stored.split(separator: "$")
        // "v1$$2b$12$..." splits to ["v1", "2b", "12", "..."]
        guard stored.hasPrefix("v1$"), parts.count >= 3, let storedCost = UInt8(parts[2]) else { return true }
        return storedCost != cost
    }
}
