import Foundation
import Testing

@testable import AuthService

/// Issue 13, item 2: docs/privacy.md maps every promise of the policy page to the code and the test that keep it. This
/// fails when a `<p>` or `<li>` of the page (or a first cell of its data table) has no row, when a row's sentence is not
/// on the page, or when a test named there does not exist.
@Suite struct PrivacyDocTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// An element's text as the doc quotes it: tags removed, entities decoded, whitespace collapsed.
    static func plain(_ html: Substring) -> String {
        var text = html.replacingOccurrences(of: "<[^>]+>", with: "", options: .regularExpression)
        for (entity, character) in [("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#39;", "'"), ("&amp;", "&")] {
            text = text.replacingOccurrences(of: entity, with: character)
        }
        return text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    /// The page's sentences: every `<p>` and `<li>`, and the first cell of each data-table row.
    static func pageSentences(_ html: String) -> [String] {
        var sentences: [String] = []
        for pattern in ["<p(?:\\s[^>]*)?>(.*?)</p>", "<li(?:\\s[^>]*)?>(.*?)</li>", "<tr>\\s*<td[^>]*>(.*?)</td>"] {
            let regex = try! NSRegularExpression(pattern: pattern, options: [.dotMatchesLineSeparators])
            for match in regex.matches(in: html, range: NSRange(html.startIndex..., in: html)) {
                if let range = Range(match.range(at: 1), in: html) { sentences.append(plain(html[range])) }
            }
        }
        return sentences.filter { !$0.isEmpty }
    }

    /// The rows of the "Promises" table: sentence and test cell.
    static func rows(_ markdown: String) -> [(sentence: String, tests: String)] {
        guard let start = markdown.range(of: "## Promises") else { return [] }
        return markdown[start.upperBound...].split(separator: "\n").compactMap { line -> (String, String)? in
            guard line.hasPrefix("|"), !line.hasPrefix("| Policy sentence"), !line.hasPrefix("| ---"), !line.hasPrefix("|---") else { return nil }
            let cells = line.replacingOccurrences(of: "\\|", with: "\u{1}").split(separator: "|", omittingEmptySubsequences: false)
                .map { $0.replacingOccurrences(of: "\u{1}", with: "|").trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 5 else { return nil }
            return (cells[1], cells[3])
        }
    }

    /// Whether the test `Suite.name` (Swift Testing) or `file.py::name` exists under Tests/.
    static func exists(_ name: String, in sources: [String: String]) -> Bool {
        if let split = name.range(of: "::") {
            let file = String(name[..<split.lowerBound]), function = String(name[split.upperBound...])
            return sources.contains { $0.key.hasSuffix("/" + file) && $0.value.contains("def \(function)(") }
        }
        let parts = name.split(separator: ".")
        guard parts.count == 2 else { return false }
        return sources.values.contains { ($0.contains("struct \(parts[0]) ") || $0.contains("extension \(parts[0]) ")) && $0.contains("func \(parts[1])(") }
    }

    @Test func everyPromiseHasARowAndEveryNamedTestExists() throws {
        let html = try String(contentsOf: Self.root.appendingPathComponent("Services/Auth/Resources/privacy.html"), encoding: .utf8)
        let doc = try String(contentsOf: Self.root.appendingPathComponent("docs/privacy.md"), encoding: .utf8)
        var sources: [String: String] = [:]
        let tests = Self.root.appendingPathComponent("Tests")
        let files = try #require(FileManager.default.enumerator(atPath: tests.path), "Tests/ is next to docs/")
        for case let path as String in files where path.hasSuffix(".swift") || path.hasSuffix(".py") {
            sources[path] = try String(contentsOf: tests.appendingPathComponent(path), encoding: .utf8)
        }
        let page = Self.pageSentences(html)
        let rows = Self.rows(doc)
        #expect(page.count > 30 && rows.count > 30)
        let documented = Set(rows.map(\.sentence))
        for sentence in page { #expect(documented.contains(sentence), "no row in docs/privacy.md for: \(sentence)") }
        let onPage = Set(page)
        for row in rows {
            #expect(onPage.contains(row.sentence), "docs/privacy.md quotes a sentence the page does not have: \(row.sentence)")
            let named = row.tests.split(separator: "`", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
            #expect(!named.isEmpty || row.tests.hasPrefix("—"), "no test and no reason for: \(row.sentence)")
            for name in named {
                let found = Self.exists(name, in: sources)
                #expect(found, "docs/privacy.md names a test that does not exist: \(name)")
            }
        }
    }
}
