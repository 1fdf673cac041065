import FlowtalkContracts
import Foundation
import Testing

/// The dashboard shows words, not codes: every outcome and reason the services record has words in its words module,
/// and so do the families it words by pattern. A new reason without words fails here.
@Suite struct DashboardWordsTests {
    /// The codes of one `export const NAME = { code: 'text', … };` block of Services/Dashboard/js/words.js.
    static func codes(of block: String) throws -> Set<String> {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Services/Dashboard/js/words.js")
        let source = try String(contentsOf: file, encoding: .utf8)
        let start = try #require(source.range(of: "export const \(block) = {"), "words.js has no \(block)")
        let end = try #require(source.range(of: "\n};", range: start.upperBound..<source.endIndex))
        var codes = Set<String>()
        for line in source[start.upperBound..<end.lowerBound].split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard let colon = trimmed.firstIndex(of: ":"), !trimmed.hasPrefix("//") else { continue }
            codes.insert(String(trimmed[..<colon]))
        }
        return codes
    }

    @Test func everyReasonHasWords() throws {
        let worded = try Self.codes(of: "REASONS")
        #expect(worded.count > 20, "words.js could not be read")
        let missing = ActivityReason.allCases.map(\.rawValue).filter { !worded.contains($0) }
        #expect(missing.isEmpty, "no dashboard words for \(missing)")
    }

    @Test func everyOutcomeHasWords() throws {
        let worded = try Self.codes(of: "OUTCOMES")
        let missing = ActivityOutcome.allCases.map(\.rawValue).filter { !worded.contains($0) }
        #expect(missing.isEmpty, "no dashboard words for the outcomes \(missing)")
    }

    @Test func thePatternFamiliesAreWorded() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Services/Dashboard/js/words.js")
        let source = try String(contentsOf: file, encoding: .utf8)
        for prefix in ActivityReason.patternPrefixes { #expect(source.contains("'\(prefix)"), "words.js does not word \(prefix)…") }
    }
}
