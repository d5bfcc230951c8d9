/// Why a round trip to the sync server failed, whatever carried it.
public struct ServerLinkError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The closed set of failures the CLI tells apart (each has its own exit code).
    public enum Kind: Hashable, Sendable {
        /// No answer: refused, unreachable, timed out, dropped.
        case unreachable
        /// The token is missing, wrong or revoked (401).
        case unauthorized
        /// The token may not do this, e.g. push another replica's changes (403).
        case forbidden
        /// The server refused the request as bad (other 4xx).
        case rejected
        /// The server failed (5xx) after retries.
        case serverError
        /// The answer could not be read.
        case invalidResponse
        /// The server's TLS key is not the key this device pinned.
        case pinMismatch
    }

    /// What kind of failure.
    public var kind: Kind
    /// What happened, in words (the server's message when it gave one).
    public var message: String
    /// The HTTP status, when there was one.
    public var status: Int?

    /// Makes an error.
    public init(_ kind: Kind, _ message: String, status: Int? = nil) {
        self.kind = kind
        self.message = message
        self.status = status
    }

    public var description: String { message }
}
