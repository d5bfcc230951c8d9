import HTTPTypes
import Hummingbird
import OutpostCore

/// An error answered as `{"error": {"code": "...", "message": "...", "field"?: "..."}}`.
public struct APIError: Error, Sendable, CustomStringConvertible {
    /// The HTTP status.
    public var status: HTTPResponse.Status
    /// A stable machine-readable code.
    public var code: String
    /// What went wrong, naming the problem.
    public var message: String
    /// The field at fault, when one is.
    public var field: String?
    /// Extra headers (e.g. `WWW-Authenticate`, `Allow`).
    public var headers: HTTPFields = [:]

    /// Makes an error.
    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, field: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    /// The JSON body.
    public var body: [UInt8] {
        var error: [String: JSONValue] = ["code": .string(code), "message": .string(message)]
        if let field { error["field"] = .string(field) }
        return JSONValue.object(["error": .object(error)]).serializedBytes()
    }

    /// The error as a response.
    public func response() -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func unauthorized(_ message: String) -> APIError {
        var e = APIError(.unauthorized, "unauthorized", message)
        e.headers[.wwwAuthenticate] = "Bearer realm=\"outpost\""
        return e
    }

    static func forbidden(_ code: String = "forbidden", _ message: String) -> APIError {
        APIError(.forbidden, code, message)
    }

    /// A 429 with `Retry-After` in seconds.
    static func tooManyRequests(retryAfter seconds: Int, _ message: String) -> APIError {
        var e = APIError(.tooManyRequests, "rate_limited", message)
        e.headers[.retryAfter] = String(seconds)
        return e
    }

    static func badRequest(_ code: String, _ message: String, field: String? = nil) -> APIError {
        APIError(.badRequest, code, message, field: field)
    }
}

/// The code for a status when the error did not come with one.
func defaultCode(for status: HTTPResponse.Status) -> String {
    switch status.code {
    case 400: return "bad_request"
    case 401: return "unauthorized"
    case 403: return "forbidden"
    case 404: return "not_found"
    case 405: return "method_not_allowed"
    case 408: return "request_timeout"
    case 413: return "payload_too_large"
    case 415: return "unsupported_media_type"
    case 422: return "invalid_field"
    case 429: return "rate_limited"
    case 503: return "unavailable"
    default: return status.code >= 500 ? "internal" : "error"
    }
}
