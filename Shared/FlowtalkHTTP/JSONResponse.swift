import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// How every service writes JSON: Codable values through one encoder — sorted keys (the same answer is the same bytes),
/// ISO 8601 dates, slashes unescaped — as `application/json; charset=utf-8`.
package enum JSONResponse {
    package static func encode(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(value)
    }

    package static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: try encode(value))))
    }
}
