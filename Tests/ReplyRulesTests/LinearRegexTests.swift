import ReplyRules
import Testing

/// The RE2 wrapper on raw text (no normalisation): what it accepts and refuses, and its answers on adversarial input.
@Suite(.timeLimit(.minutes(1))) struct LinearRegexTests {
    @Test func matchesAnywhereIgnoringCaseInAnyScript() throws {
        #expect(try LinearRegex(#"order \d{4,}"#).matches("Re: ORDER 12345, where is it?"))
        #expect(try !LinearRegex(#"^order"#).matches("my order"))
        #expect(try LinearRegex(#"\pL+ кружка"#).matches("Синяя КРУЖКА"))
        #expect(try LinearRegex("цена").matches("ЦЕНА?"))
        #expect(try LinearRegex("❤️").matches("I ❤️ it"))
        #expect(try !LinearRegex("x").matches(""))
        #expect(try LinearRegex("^$").matches(""))
    }

    /// The classic e-mail ReDoS on the raw text it was made for: 1,000 characters that almost make an address.
    @Test func anEmailPatternOnAnAlmostAddress() throws {
        let email = try LinearRegex(#"^([a-zA-Z0-9])(([\-.]|[_]+)?([a-zA-Z0-9]+))*(@){1}[a-z0-9]+[.]{1}(([a-z]{2,3})|([a-z]{2,3}[.]{1}[a-z]{2,3}))$"#)
        #expect(!email.matches(String(repeating: "a", count: 999) + "@"))
        #expect(!email.matches(String(repeating: "a.", count: 499) + "a!"))
        #expect(email.matches(String(repeating: "a.", count: 490) + "a@shop.com"))
    }

    @Test func refusalsSayWhy() {
        #expect(throws: LinearRegex.CompileError.backreference) { try LinearRegex(#"(a)\1"#) }
        #expect(throws: LinearRegex.CompileError.backreference) { try LinearRegex(#"(?P<n>a)\k<n>"#) }
        #expect(throws: LinearRegex.CompileError.lookaround) { try LinearRegex(#"a(?!b)"#) }
        #expect(throws: LinearRegex.CompileError.lookaround) { try LinearRegex(#"(?<=a)b"#) }
        #expect(throws: LinearRegex.CompileError.tooComplex) { try LinearRegex(#"[\p{L}\p{N}_]{1000}"#) }
        #expect(throws: LinearRegex.CompileError.invalid("missing ]: [")) { try LinearRegex("[") }
        #expect(throws: LinearRegex.CompileError.invalid("write a named group as (?P<name>…)")) { try LinearRegex("(?<name>a)") }
    }

    @Test func programSizeIsReported() throws {
        #expect(try LinearRegex("a").programSize < LinearRegex(#"\pL+"#).programSize)
        #expect(try LinearRegex(#"\pL+"#).programSize <= LinearRegex.maximumProgramSize)
    }
}
