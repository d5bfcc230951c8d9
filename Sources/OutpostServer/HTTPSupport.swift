import Foundation
import HTTPTypes
import Hummingbird
import OutpostCore
import OutpostSync

/// Request and response plumbing shared by the controllers.
enum HTTPSupport {
    /// Whether the client accepts a gzip response (`Accept-Encoding`, honouring `q=0`).
    static func acceptsGzip(_ request: Request) -> Bool {
        let value = request.headers[values: .acceptEncoding].joined(separator: ",").lowercased()
        guard !value.isEmpty else { return false }
        for item in value.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let coding = parts.first, coding == "gzip" || coding == "x-gzip" || coding == "*" else { continue }
            let q = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return q > 0
        }
        return false
    }

    /// A JSON response, gzip-compressed (at `level`) when the client accepts it and it is worth it.
    static func json(
        _ bytes: [UInt8], status: HTTPResponse.Status = .ok, request: Request, compressAtLeast: Int = 1024, level: Int32 = 5
    ) -> Response {
        var headers: HTTPFields = [.contentType: "application/json", .vary: "Accept-Encoding"]
        var body = bytes
        if acceptsGzip(request), bytes.count >= compressAtLeast, let compressed = try? Gzip.compress(bytes, level: level) {
            body = compressed
            headers[.contentEncoding] = "gzip"
        }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// A number written in decimal (digits, `.`, a sign, an exponent), as JSON and query strings
    /// write them; nil for anything else, such as `nan`, `inf` or `0x1p3`, which `Double` would take.
    static func decimalNumber(_ text: String) -> Double? {
        guard
            text.utf8.allSatisfy({ c in
                (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: ".") || c == UInt8(ascii: "-")
                    || c == UInt8(ascii: "+") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
            })
        else { return nil }
        return Double(text)
    }

    /// The bearer token of a request, or a 401.
    static func bearerToken(_ request: Request) throws(APIError) -> String {
        let values = request.headers[values: .authorization]
        guard !values.isEmpty else { throw .unauthorized("missing Authorization: Bearer token") }
        guard values.count == 1 else { throw .unauthorized("more than one Authorization header") }
        let value = values[0]
        guard value.count > 7, value.prefix(7).lowercased() == "bearer " else {
            throw .unauthorized("the Authorization header must be \"Bearer TOKEN\"")
        }
        return value.dropFirst(7).trimmingCharacters(in: .whitespaces)
    }

    /// Reads the whole body (at most `maxBytes` on the wire, `maxDecoded` after gzip) and parses it as JSON.
    static func readJSON(_ request: Request, maxBytes: Int, maxDecoded: Int) async throws -> JSONValue {
        try parseJSON(try await readBody(request, maxBytes: maxBytes, maxDecoded: maxDecoded))
    }

    /// Parses a request body read by `readBody` as JSON, or a 400.
    static func parseJSON(_ bytes: [UInt8]) throws(APIError) -> JSONValue {
        do {
            return try JSONParser.parse(bytes)
        } catch {
            throw APIError.badRequest("malformed_json", "the request body is not valid JSON: \(error.description)")
        }
    }

    /// Reads the whole body (at most `maxBytes` on the wire, `maxDecoded` after gzip, within
    /// `timeout` from the first read), checking its encoding and (when `json`) its type; the bytes
    /// are not empty.
    ///
    /// A gzip body is inflated piece by piece as it arrives and refused (413) at the first byte past
    /// `maxDecoded`, so a bomb costs neither the memory nor the time of its whole expansion.
    static func readBody(
        _ request: Request, maxBytes: Int, maxDecoded: Int, timeout: Duration = .seconds(30), json: Bool = true
    ) async throws -> [UInt8] {
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > maxBytes {
            throw APIError(.contentTooLarge, "payload_too_large", "the request body is \(length) bytes; the limit is \(maxBytes)")
        }
        let encodings = request.headers[values: .contentEncoding].flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty && $0 != "identity" }
        switch encodings {
        case [], ["gzip"], ["x-gzip"]:
            break
        default:
            throw APIError(
                .unsupportedMediaType, "unsupported_encoding",
                "Content-Encoding \(encodings.joined(separator: ", ")) is not supported (use gzip or identity)")
        }
        if json, let type = request.headers[.contentType]?.lowercased(), !type.hasPrefix("application/json"),
            !type.hasPrefix("application/*"),
            !type.contains("+json")
        {
            throw APIError(
                .unsupportedMediaType, "unsupported_media_type", "Content-Type must be application/json, not \(type.prefix(60))")
        }
        let gzip = !encodings.isEmpty
        let body = request.body
        // The body is read by one task and a timer runs beside it: whichever ends first answers, so
        // a body that stalls or trickles is answered 408 at the deadline. The reader is left to end
        // with the connection (a body iteration does not stop on cancellation).
        let bytes = try await FirstOf<[UInt8]>.race(
            { try await collect(body, gzip: gzip, maxBytes: maxBytes, maxDecoded: maxDecoded) },
            {
                try await Task.sleep(for: timeout)
                throw bodyTimeout(timeout)
            })
        guard !bytes.isEmpty else {
            guard json else { throw APIError.badRequest("empty_body", "the request body is empty") }
            throw APIError.badRequest("malformed_json", "the request body is empty; a JSON object is required")
        }
        return bytes
    }

    /// The body's bytes, inflated when `gzip`, within the limits.
    private static func collect(_ body: RequestBody, gzip: Bool, maxBytes: Int, maxDecoded: Int) async throws -> [UInt8] {
        let inflater = gzip ? try Gzip.Inflater(maxOutput: maxDecoded) : nil
        var plain: [UInt8] = []
        var wireBytes = 0
        for try await piece in body {
            wireBytes += piece.readableBytes
            guard wireBytes <= maxBytes else {
                throw APIError(.contentTooLarge, "payload_too_large", "the request body is larger than \(maxBytes) bytes")
            }
            guard let inflater else {
                plain.append(contentsOf: piece.readableBytesView)
                continue
            }
            do {
                try piece.withUnsafeReadableBytes { bytes in try inflater.feed(bytes) }
            } catch let error as GzipError {
                throw gzipFailure(error, maxDecoded: maxDecoded)
            }
        }
        guard let inflater else { return plain }
        do { return try inflater.finish() } catch { throw gzipFailure(error, maxDecoded: maxDecoded) }
    }

    /// The 408 for a body not received within `timeout`.
    static func bodyTimeout(_ timeout: Duration) -> APIError {
        var error = APIError(
            .requestTimeout, "request_timeout",
            "the request body did not arrive within \(timeout.components.seconds) seconds; send it again")
        error.headers[.connection] = "close"
        return error
    }

    private static func gzipFailure(_ error: GzipError, maxDecoded: Int) -> APIError {
        if error.isTooLarge {
            return APIError(
                .contentTooLarge, "payload_too_large", "the request body decompresses to more than \(maxDecoded) bytes")
        }
        return APIError.badRequest(
            "bad_encoding", "Content-Encoding is gzip but the body is not valid gzip: \(error.message)")
    }
}
