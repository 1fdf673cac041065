import FlowtalkCore
import Testing

@Suite struct PasswordHasherTests {
    let hasher = try! PasswordHasher(cost: 4, pepper: Secret("test-pepper"))

    @Test func hashAndVerify() throws {
        let stored = try hasher.hash("correct horse battery staple")
        #expect(stored.hasPrefix("v1$$2"))
        #expect(stored.contains("$04$"))
        #expect(!stored.contains("correct horse"))
        #expect(hasher.verify("correct horse battery staple", against: stored))
        #expect(!hasher.verify("correct horse battery stapl", against: stored))
        #expect(!hasher.verify("", against: stored))
    }

    @Test func bytesBeyondBcrypts72AreNotIgnored() throws {
        let prefix = String(repeating: "a", count: 72)
        let stored = try hasher.hash(prefix + "X")
        #expect(hasher.verify(prefix + "X", against: stored))
        #expect(!hasher.verify(prefix + "Y", against: stored))
        #expect(!hasher.verify(prefix, against: stored))
        let long = try hasher.hash(prefix + String(repeating: "b", count: 28))
        #expect(!hasher.verify(prefix + String(repeating: "c", count: 28), against: long))
    }

    @Test func nulAndOversizedPasswordsAreRefusedBeforeHashing() throws {
        #expect(throws: PasswordError.containsNUL) { try hasher.hash("abc\u{0}anything") }
        #expect(throws: PasswordError.tooLong) { try hasher.hash(String(repeating: "x", count: 1025)) }
        #expect(try hasher.hash(String(repeating: "x", count: 1024)).hasPrefix("v1$"))
        let stored = try hasher.hash("abc")
        #expect(!hasher.verify("abc\u{0}anything", against: stored))
    }

    @Test func sixtyFourEmojiRoundTrip() throws {
        let password = String(repeating: "🔐", count: 64)  // 256 UTF-8 bytes
        let stored = try hasher.hash(password)
        #expect(hasher.verify(password, against: stored))
        #expect(!hasher.verify(String(repeating: "🔐", count: 63), against: stored))
    }

    @Test func pepperMatters() throws {
        let stored = try hasher.hash("secret phrase")
        let other = try PasswordHasher(cost: 4, pepper: Secret("another pepper"))
        #expect(!other.verify("secret phrase", against: stored))
    }

    @Test func rehashWhenCostChanges() throws {
        let stored = try hasher.hash("pw-1234567")
        #expect(!hasher.needsRehash(stored))
        let stronger = try PasswordHasher(cost: 5, pepper: Secret("test-pepper"))
        #expect(stronger.needsRehash(stored))
        #expect(stronger.verify("pw-1234567", against: stored))
        #expect(hasher.needsRehash("$2b$04$legacyformat"))
        #expect(!hasher.verify("x", against: "$2b$04$legacyformat"))
    }

    @Test func costIsBounded() {
        #expect(throws: ConfigurationError.self) { try PasswordHasher(cost: 3, pepper: Secret("p")) }
        #expect(throws: ConfigurationError.self) { try PasswordHasher(cost: 32, pepper: Secret("p")) }
    }
}
