import Foundation
import Hummingbird
import NIOCore
import NIOFoundationCompat

/// The API's request decoder: JSON (ISO 8601 dates, as Hummingbird's default) that refuses U+0000 anywhere in the body
/// with 400 `invalid_text`. PostgreSQL's text cannot hold it, so a rule, a setting or an Ice Breaker containing it would
/// fail at its insert with a 500, or later in a job (issue 12).
package struct StrictJSONDecoder: RequestDecoder {
    package init() {}

    package func decode<T: Decodable>(_ type: T.Type, from request: Request, context: some RequestContext) async throws -> T {
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        if Self.containsNUL(buffer.readableBytesView) {
            throw APIError.badRequest("Text cannot contain the NUL character (U+0000).", code: "invalid_text")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(T.self, from: buffer)
    }

    /// True when the JSON text holds U+0000: a raw zero byte, or a `\u0000` escape that is not itself an escaped backslash
    /// followed by `u0000`.
    package static func containsNUL(_ bytes: some Collection<UInt8>) -> Bool {
        var iterator = bytes.makeIterator()
        while let byte = iterator.next() {
            if byte == 0 { return true }
            guard byte == UInt8(ascii: "\\") else { continue }
            guard let escaped = iterator.next() else { return false }
            guard escaped == UInt8(ascii: "u") else { continue }
            var digits: [UInt8] = []
            while digits.count < 4, let digit = iterator.next() { digits.append(digit) }
            if digits == Array("0000".utf8) { return true }
            if digits.contains(0) { return true }
        }
        return false
    }
}
