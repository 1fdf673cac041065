import Crypto
import Foundation

/// Who a sealed token belongs to. It is authenticated with the ciphertext, so a value copied to another owner's row does not open.
package struct TokenOwner: Sendable, Hashable {
    /// The Flowtalk account that connected the Instagram account.
    package var accountID: String
    /// The Instagram professional account id (IG_ID).
    package var instagramUserID: String

    /// An owner.
    package init(accountID: String, instagramUserID: String) {
        self.accountID = accountID
        self.instagramUserID = instagramUserID
    }

    var associatedData: [UInt8] {
        // Length-prefixed fields so ("ab","c") and ("a","bc") differ.
        var out = Array("flowtalk/ig_token/v1".utf8)
        for field in [accountID, instagramUserID] {
            let bytes = Array(field.utf8)
            withUnsafeBytes(of: UInt32(bytes.count).bigEndian) { out.append(contentsOf: $0) }
            out.append(contentsOf: bytes)
        }
        return out
    }
}

/// Why a sealed token could not be opened. None of the cases carries key material or plaintext.
package enum TokenVaultError: Error, Equatable, CustomStringConvertible {
    case malformed
    case unsupportedVersion(UInt8)
    case unknownKey(String)
    case authenticationFailed

    package var description: String {
        switch self {
        case .malformed: "sealed token is malformed"
        case .unsupportedVersion(let v): "sealed token has unsupported version \(v)"
        case .unknownKey(let id): "sealed token uses unknown key id \(id)"
        case .authenticationFailed: "sealed token failed authentication"
        }
    }
}

/// AES-256-GCM encryption of Instagram access tokens with a key ring.
///
/// Sealed layout: `version (1 byte, 1) ‖ key id length (1 byte) ‖ key id (ASCII) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`.
/// The version and key id are part of the associated data together with the owner, so none of them can be swapped.
/// The first key of the ring seals; every key opens. Each seal draws a fresh random nonce.
package struct TokenVault: Sendable {
    private static let version: UInt8 = 1
    /// The id of the key new seals use.
    package let activeKeyID: String
    private let keys: [String: SymmetricKey]
    /// Every key id of the ring, the active one first (`flowtalk-admin rotate-keys` says which are still in use).
    package var keyIDs: [String] { [activeKeyID] + keys.keys.filter { $0 != activeKeyID }.sorted() }

    /// A vault from `(id, 32-byte key)` pairs; the first is active.
    package init(keys: [(id: String, key: SymmetricKey)]) throws {
        guard let first = keys.first else { throw ConfigurationError.malformed("TOKEN_ENCRYPTION_KEYS", "at least one key is required") }
        var ring: [String: SymmetricKey] = [:]
        for (id, key) in keys {
            guard Self.isValidKeyID(id) else {
                throw ConfigurationError.malformed("TOKEN_ENCRYPTION_KEYS", "key ids are 1-32 characters of A-Z a-z 0-9 _ -")
            }
            guard key.bitCount == 256 else { throw ConfigurationError.malformed("TOKEN_ENCRYPTION_KEYS", "key \(id) is not 32 bytes") }
            guard ring[id] == nil else { throw ConfigurationError.malformed("TOKEN_ENCRYPTION_KEYS", "key id \(id) appears twice") }
            ring[id] = key
        }
        self.activeKeyID = first.id
        self.keys = ring
    }

    /// Parses `TOKEN_ENCRYPTION_KEYS`: `id:base64(32 bytes)` entries separated by commas, first is active.
    package init(keyRing: Secret<String>) throws {
        var parsed: [(id: String, key: SymmetricKey)] = []
        for entry in keyRing.value.split(separator: ",") {
            let parts = entry.trimmingCharacters(in: .whitespaces).split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let data = Data(base64Encoded: String(parts[1])) else {
                throw ConfigurationError.malformed("TOKEN_ENCRYPTION_KEYS", "expected comma-separated id:base64(32 bytes) entries")
            }
            guard data.count == 32 else {
                throw ConfigurationError.malformed("TOKEN_ENCRYPTION_KEYS", "key \(parts[0]) does not decode to 32 bytes")
            }
            parsed.append((String(parts[0]), SymmetricKey(data: data)))
        }
        try self.init(keys: parsed)
    }

    private static func isValidKeyID(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 32
            && id.utf8.allSatisfy { $0.isASCIIAlphanumeric || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// Seals `plaintext` for `owner` under the active key.
    package func seal(_ plaintext: Secret<String>, for owner: TokenOwner) throws -> [UInt8] {
        let header = Self.header(keyID: activeKeyID)
        let box = try AES.GCM.seal(Array(plaintext.value.utf8), using: keys[activeKeyID]!, authenticating: header + owner.associatedData)
        guard let combined = box.combined else { throw TokenVaultError.malformed }
        return header + Array(combined)
    }

    /// Opens a sealed token; fails unless it was sealed for exactly this owner under a key in the ring.
    package func open(_ sealed: [UInt8], for owner: TokenOwner) throws -> Secret<String> {
        let (keyID, headerLength) = try Self.parseHeader(sealed)
        guard let key = keys[keyID] else { throw TokenVaultError.unknownKey(keyID) }
        let body = sealed[headerLength...]
        guard body.count >= 12 + 16 else { throw TokenVaultError.malformed }
        do {
            let box = try AES.GCM.SealedBox(combined: body)
            let plain = try AES.GCM.open(box, using: key, authenticating: Array(sealed[..<headerLength]) + owner.associatedData)
            guard let text = String(bytes: plain, encoding: .utf8) else { throw TokenVaultError.malformed }
            return Secret(text)
        } catch let error as TokenVaultError {
            throw error
        } catch {
            throw TokenVaultError.authenticationFailed
        }
    }

    /// The id of the key that sealed this value (to find rows that a key rotation must re-seal).
    package static func keyID(of sealed: [UInt8]) throws -> String { try parseHeader(sealed).0 }

    private static func header(keyID: String) -> [UInt8] {
        [version, UInt8(keyID.utf8.count)] + Array(keyID.utf8)
    }

    private static func parseHeader(_ sealed: [UInt8]) throws -> (String, Int) {
        guard sealed.count >= 2 else { throw TokenVaultError.malformed }
        guard sealed[0] == version else { throw TokenVaultError.unsupportedVersion(sealed[0]) }
        let length = Int(sealed[1])
        guard length > 0, sealed.count >= 2 + length else { throw TokenVaultError.malformed }
        let keyID = String(decoding: sealed[2..<(2 + length)], as: UTF8.self)
        guard isValidKeyID(keyID) else { throw TokenVaultError.malformed }
        return (keyID, 2 + length)
    }
}

extension UInt8 {
    fileprivate var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}
