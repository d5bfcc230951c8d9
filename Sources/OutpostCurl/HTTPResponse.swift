/// A complete HTTP response; the body is already decoded from gzip/deflate/br/zstd.
public struct HTTPResponse: Sendable, Hashable {
    /// Status code of the final response (after redirects, if followed).
    public var status: Int
    /// Header fields of the final response, names lower-cased.
    public var headers: HTTPHeaders
    /// Decoded body bytes.
    public var body: [UInt8]
    /// How many attempts `CurlHTTPClient.send` needed to get this response (1 = first try).
    public var attempts: Int

    /// Creates a response.
    public init(status: Int, headers: HTTPHeaders = [:], body: [UInt8] = [], attempts: Int = 1) {
        self.status = status
        self.headers = headers
        self.body = body
        self.attempts = attempts
    }

    /// The body decoded as UTF-8 (invalid sequences replaced).
    public var text: String { String(decoding: body, as: UTF8.self) }
}
