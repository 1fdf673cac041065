import Crypto
import FlowtalkCore
import Foundation
import Testing

@Suite struct TokenVaultTests {
    static let keyA = SymmetricKey(size: .bits256)
    static let keyB = SymmetricKey(size: .bits256)
    let owner = TokenOwner(accountID: "8d2f7c1e-account-a", instagramUserID: "17841400538867190")
    let token = Secret("IGAA-CANARY-\(UUID().uuidString)")

    func vault(_ keys: [(String, SymmetricKey)]) throws -> TokenVault {
        try TokenVault(keys: keys.map { (id: $0.0, key: $0.1) })
    }

    @Test func sealAndOpenRoundTrip() throws {
        let vault = try vault([("k1", Self.keyA)])
        let sealed = try vault.seal(token, for: owner)
        #expect(try vault.open(sealed, for: owner).value == token.value)
        #expect(try TokenVault.keyID(of: sealed) == "k1")
        // The plaintext is nowhere in the stored bytes.
        #expect(sealed.count > token.value.utf8.count)
        #expect(!Data(sealed).range(of: Data(token.value.utf8)).map { _ in true }.isSome)
    }

    @Test func everyByteIsAuthenticated() throws {
        let vault = try vault([("k1", Self.keyA)])
        let sealed = try vault.seal(token, for: owner)
        // Flip a bit in the header (version/key id), the nonce, the ciphertext and the tag.
        for index in [3, 2 + 2 + 5, sealed.count - 20, sealed.count - 1] {
            var tampered = sealed
            tampered[index] ^= 0x04
            #expect(throws: (any Error).self) { try vault.open(tampered, for: owner) }
        }
        #expect(throws: TokenVaultError.self) { try vault.open(Array(sealed.prefix(10)), for: owner) }
    }

    @Test func aCiphertextCopiedToAnotherOwnerDoesNotOpen() throws {
        let vault = try vault([("k1", Self.keyA)])
        let sealed = try vault.seal(token, for: owner)
        let otherAccount = TokenOwner(accountID: "account-b", instagramUserID: owner.instagramUserID)
        let otherInstagram = TokenOwner(accountID: owner.accountID, instagramUserID: "17841400000000000")
        #expect(throws: TokenVaultError.authenticationFailed) { try vault.open(sealed, for: otherAccount) }
        #expect(throws: TokenVaultError.authenticationFailed) { try vault.open(sealed, for: otherInstagram) }
    }

    @Test func everySealUsesAFreshNonce() throws {
        let vault = try vault([("k1", Self.keyA)])
        var nonces = Set<[UInt8]>()
        for _ in 0..<10_000 {
            let sealed = try vault.seal(Secret("same token"), for: owner)
            nonces.insert(Array(sealed[4..<16]))  // version, length, "k1", then 12 nonce bytes
        }
        #expect(nonces.count == 10_000)
    }

    @Test func rotationKeepsOldCiphertextsReadable() throws {
        let old = try vault([("2025", Self.keyA)])
        let sealedWithOld = try old.seal(token, for: owner)
        let rotated = try vault([("2026", Self.keyB), ("2025", Self.keyA)])
        #expect(try rotated.open(sealedWithOld, for: owner).value == token.value)
        let sealedWithNew = try rotated.seal(token, for: owner)
        #expect(try TokenVault.keyID(of: sealedWithNew) == "2026")
        // A vault that dropped the old key says which key is missing.
        let dropped = try vault([("2026", Self.keyB)])
        #expect(throws: TokenVaultError.unknownKey("2025")) { try dropped.open(sealedWithOld, for: owner) }
    }

    @Test func swappingTheKeyIDInTheHeaderFails() throws {
        // Both keys in the ring, ids of equal length: relabelling a ciphertext must not make it open under the other key.
        let vault = try vault([("k1", Self.keyA), ("k2", Self.keyA)])
        var sealed = try vault.seal(token, for: owner)
        sealed[3] = UInt8(ascii: "2")
        #expect(throws: TokenVaultError.authenticationFailed) { try vault.open(sealed, for: owner) }
    }

    @Test func keyRingParsing() throws {
        let a = Data(Self.keyA.withUnsafeBytes { Array($0) }).base64EncodedString()
        let b = Data(Self.keyB.withUnsafeBytes { Array($0) }).base64EncodedString()
        let vault = try TokenVault(keyRing: Secret("new:\(b), old:\(a)"))
        #expect(vault.activeKeyID == "new")

        let cases: [(String, String)] = [
            ("", "at least one key"),
            ("k1", "expected comma-separated"),
            ("k1:not-base64!", "expected comma-separated"),
            ("k1:\(Data(repeating: 1, count: 16).base64EncodedString())", "32 bytes"),
            ("k1:\(a),k1:\(b)", "appears twice"),
            ("bad id:\(a)", "key ids"),
        ]
        for (ring, message) in cases {
            do {
                _ = try TokenVault(keyRing: Secret(ring))
                Issue.record("accepted \(ring)")
            } catch let error as ConfigurationError {
                #expect(error.description.contains("TOKEN_ENCRYPTION_KEYS"))
                #expect(error.description.contains(message))
                #expect(!error.description.contains(a))
            }
        }
    }
}

extension Optional {
    fileprivate var isSome: Bool { self != nil }
}
