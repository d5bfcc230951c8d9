/// Why `CurlHTTPClient.send` gave up: what went wrong on the last attempt and how many were made.
public struct TransportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The closed set of failure categories.
    public enum Kind: Sendable, Hashable {
        /// Host name not resolved or connection refused / unroutable (retried).
        case unreachable
        /// The connection was reset or closed before the response was complete (retried).
        case connectionLost
        /// Connect, total or low-speed timeout fired (retried).
        case timedOut
        /// TLS handshake or certificate verification failed (not retried).
        case tls
        /// The server's public key is not the pinned one (CURLE_SSL_PINNEDPUBKEYNOTMATCH, not retried).
        case pinMismatch
        /// The server answered with this status code, 400 or above.
        case httpStatus(Int)
        /// The URL is malformed or not http/https (not retried).
        case invalidURL
        /// The request itself is invalid, e.g. a header with a line break (not retried).
        case invalidRequest
        /// The server broke the HTTP protocol, e.g. a garbled reply or bad encoding (not retried).
        case protocolError
        /// The response body passed `CurlOptions.maxResponseBytes` (`limit`) after decompression
        /// (not retried).
        case responseTooLarge(limit: Int)
        /// The calling task was cancelled.
        case cancelled
        /// Any other libcurl failure (not retried).
        case other
    }

    /// Category of the last failure.
    public var kind: Kind
    /// Human-readable description of the last failure, naming the problem.
    public var message: String
    /// Attempts made in total, including the failed last one.
    public var attempts: Int
    /// The last HTTP status received in any attempt, if there was one.
    public var lastStatus: Int?
    /// The final attempt's response when the failure is an HTTP status.
    public var response: HTTPResponse?
    /// libcurl's CURLcode of the last failure, if it came from libcurl.
    public var curlCode: Int?

    /// Creates an error.
    public init(
        kind: Kind, message: String, attempts: Int, lastStatus: Int? = nil,
        response: HTTPResponse? = nil, curlCode: Int? = nil
    ) {
        self.kind = kind
        self.message = message
        self.attempts = attempts
        self.lastStatus = lastStatus
        self.response = response
        self.curlCode = curlCode
    }

    /// Body of the final response, empty if there was none.
    public var responseBody: [UInt8] { response?.body ?? [] }

    /// The message plus the attempt count.
    public var description: String {
        "\(message) (\(attempts) attempt\(attempts == 1 ? "" : "s"))"
    }
}
