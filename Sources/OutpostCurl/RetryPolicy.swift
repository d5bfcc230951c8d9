import Foundation

/// When and how long `CurlHTTPClient` waits before trying a request again.
///
/// Retried: `unreachable` (refused, DNS), `connectionLost` (reset), `timedOut`, HTTP 5xx and
/// HTTP 429. A `Retry-After` header (seconds or HTTP date) on 429/5xx replaces the backoff, capped
/// at `maxRetryAfter`. Other 4xx and TLS/URL/protocol errors are never retried. Every method is
/// retried alike, so requests sent through a retrying client must be idempotent.
public struct RetryPolicy: Sendable, Hashable {
    /// Total attempts including the first; 1 disables retries.
    public var maxAttempts: Int
    /// Backoff before the second attempt; doubled for each further attempt.
    public var baseDelay: Duration
    /// Upper bound of the exponential backoff.
    public var maxDelay: Duration
    /// Fraction (0...1) of each backoff delay that is randomly taken off, to spread clients out.
    public var jitter: Double
    /// Upper bound for a server's `Retry-After`.
    public var maxRetryAfter: Duration

    /// Creates a policy.
    public init(
        maxAttempts: Int = 4,
        baseDelay: Duration = .milliseconds(500),
        maxDelay: Duration = .seconds(30),
        jitter: Double = 0.3,
        maxRetryAfter: Duration = .seconds(120)
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.jitter = min(1, max(0, jitter))
        self.maxRetryAfter = maxRetryAfter
    }

    /// Four attempts, 0.5 s doubling up to 30 s, 30 % jitter, Retry-After capped at 2 min.
    public static let standard = RetryPolicy()

    /// A single attempt, no retries.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// Whether a failure of this kind is transient and worth another attempt.
    public func isRetryable(_ kind: TransportError.Kind) -> Bool {
        switch kind {
        case .unreachable, .connectionLost, .timedOut:
            return true
        case .httpStatus(let status):
            return status == 429 || (500...599).contains(status)
        case .tls, .pinMismatch, .invalidURL, .invalidRequest, .protocolError, .responseTooLarge, .cancelled, .other:
            return false
        }
    }

    /// The wait after failed attempt number `attempt` (1-based): `retryAfter` (capped) if the
    /// server sent one, else exponential backoff with jitter.
    public func delay(afterAttempt attempt: Int, retryAfter: Duration? = nil) -> Duration {
        var rng = SystemRandomNumberGenerator()
        return delay(afterAttempt: attempt, retryAfter: retryAfter, using: &rng)
    }

    /// As `delay(afterAttempt:retryAfter:)` with a caller-supplied random source.
    public func delay<R: RandomNumberGenerator>(
        afterAttempt attempt: Int, retryAfter: Duration?, using rng: inout R
    ) -> Duration {
        if let retryAfter {
            return max(.zero, min(retryAfter, maxRetryAfter))
        }
        let exponent = min(max(attempt - 1, 0), 30)
        let backoff = min(baseDelay.fractionalSeconds * Double(1 << exponent), maxDelay.fractionalSeconds)
        let factor = 1 - jitter * Double.random(in: 0..<1, using: &rng)
        return .milliseconds(Int((backoff * factor * 1000).rounded()))
    }

    /// Parses a `Retry-After` value: delta seconds or an HTTP date (relative to `now`).
    public static func parseRetryAfter(_ value: String, now: Date = Date()) -> Duration? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(text) {
            return seconds >= 0 ? .seconds(seconds) : nil
        }
        guard let date = parseHTTPDate(text) else { return nil }
        let delta = date.timeIntervalSince(now)
        return .milliseconds(Int(max(0, delta) * 1000))
    }

    /// Parses the three date formats RFC 9110 allows (IMF-fixdate, RFC 850, asctime).
    static func parseHTTPDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}
