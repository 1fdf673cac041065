import CRE2

/// A regular expression compiled by RE2 (through the CRE2 target), whose matching time is linear in the length of the
/// text for every pattern it accepts: no backtracking, so no pattern can hold a dispatch worker or the rule tester.
///
/// RE2 syntax: no backreferences (`\1`, `\k<name>`) and no lookarounds (`(?=…)`, `(?<!…)`); `\w`, `\d`, `\s` and `\b`
/// are ASCII (`\pL` is a letter of any script). Matching is unanchored and, here, case-insensitive.
///
/// An RE2 object is immutable once compiled and documented as safe to match from many threads at once, hence
/// `@unchecked Sendable`; the object is freed when the last reference goes.
package final class LinearRegex: @unchecked Sendable {
    /// Why RE2 refused a pattern.
    package enum CompileError: Error, Equatable, Sendable {
        /// `\1`, `\k<name>`, `\g1`: RE2 cannot match them in linear time, so it has none.
        case backreference
        /// `(?=…)`, `(?!…)`, `(?<=…)`, `(?<!…)`.
        case lookaround
        /// The program is larger than `maximumProgramSize` (or outgrew RE2's memory bound).
        case tooComplex
        /// Any other syntax error, with RE2's description (e.g. "missing ]: [").
        case invalid(String)
    }

    /// Memory RE2 may use for one pattern: its compiled program (two thirds) and the cache of its matching automaton;
    /// when the cache fills, RE2 falls back to a slower automaton that is still linear in the text.
    package static let maximumMemory: Int64 = 8 << 20
    /// The largest program (RE2 instructions) accepted: matching costs at most about this many steps per byte of text.
    /// `\pL+` is about 1,200, `order \d{4,}` about 20, `.{1000}` about 8,000.
    package static let maximumProgramSize = 5_000

    private let handle: OpaquePointer
    /// RE2's measure of the compiled program's size.
    package let programSize: Int

    /// Compiles `pattern` for case-insensitive, unanchored matching on UTF-8 text.
    package init(_ pattern: String) throws(CompileError) {
        var pattern = pattern
        let compiled = pattern.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { cre2_new($0.baseAddress, $0.count, 1, Self.maximumMemory) }
        }
        guard let compiled else { throw .tooComplex }  // out of memory
        let code = cre2_error_code(compiled)
        guard code == CRE2_NO_ERROR else {
            let message = String(cString: cre2_error(compiled))
            let fragment = String(cString: cre2_error_arg(compiled))
            cre2_free(compiled)
            throw Self.error(code: code, message: message, fragment: fragment, pattern: pattern)
        }
        let size = Int(cre2_program_size(compiled))
        guard size <= Self.maximumProgramSize else {
            cre2_free(compiled)
            throw .tooComplex
        }
        handle = compiled
        programSize = size
    }

    deinit { cre2_free(handle) }

    /// Whether the pattern matches anywhere in `text`.
    package func matches(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { cre2_partial_match(handle, $0.baseAddress, $0.count) != 0 }
        }
    }

    private static func error(code: Int32, message: String, fragment: String, pattern: String) -> CompileError {
        switch code {
        case CRE2_ERROR_PATTERN_TOO_LARGE:
            return .tooComplex
        case CRE2_ERROR_BAD_ESCAPE where fragment.count == 2 && ("1"..."9" ~= fragment.last! || fragment.last! == "k" || fragment.last! == "g"):
            return .backreference
        case CRE2_ERROR_BAD_PERL_OP where fragment == "(?=" || fragment == "(?!":
            return .lookaround
        case CRE2_ERROR_BAD_PERL_OP where fragment == "(?<" && (pattern.contains("(?<=") || pattern.contains("(?<!")):
            return .lookaround
        case CRE2_ERROR_BAD_PERL_OP where fragment == "(?<":
            return .invalid("write a named group as (?P<name>…)")
        default:
            return .invalid(message)
        }
    }
}
