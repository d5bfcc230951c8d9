/// An HTTP request: the body is sent exactly as given (a caller that gzips it sets
/// `Content-Encoding` itself).
public struct HTTPRequest: Sendable, Hashable {
    /// Method token such as `GET`, `POST`, `PUT`, `DELETE`, `HEAD`.
    public var method: String
    /// Absolute `http://` or `https://` URL.
    public var url: String
    /// Request header fields; `Content-Type` defaults to `application/octet-stream` when a body is sent.
    public var headers: HTTPHeaders
    /// Request body bytes (may be empty).
    public var body: [UInt8]

    /// Creates a request.
    public init(method: String = "GET", url: String, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}
