import Dispatch
import Foundation

/// An HTTP client on one reused libcurl easy handle (keep-alive), with retries per `RetryPolicy`.
///
/// Transfers run one at a time on a serial dispatch queue owned by the client, never on Swift's
/// cooperative thread pool; concurrent `send` calls wait their turn. TLS verification is on by
/// default (`CurlOptions.caFile` trusts a private CA); proxies come from the environment
/// (`http_proxy`, `https_proxy`, `no_proxy`) as libcurl does by default. Responses with any
/// `Content-Encoding` libcurl supports are decoded; request bodies are sent as given.
public final class CurlHTTPClient: @unchecked Sendable {
    // @unchecked Sendable: `handle` is mutable C state, but it is only ever touched inside blocks
    // running on `queue`, a serial queue owned by this client; every other stored property is an
    // immutable `let` of a Sendable type.

    /// Receives byte counts while a transfer runs (called on the client's queue, often).
    public typealias ProgressHandler = @Sendable (TransferProgress) -> Void

    /// Transport settings used for every request.
    public let options: CurlOptions
    /// Retry rules used by `send`.
    public let retryPolicy: RetryPolicy
    private let handle: CurlEasyHandle
    private let queue: DispatchQueue

    /// Creates a client with its own easy handle; throws if libcurl cannot be initialised.
    public init(options: CurlOptions = CurlOptions(), retryPolicy: RetryPolicy = .standard) throws(TransportError) {
        guard let handle = CurlEasyHandle() else {
            throw TransportError(kind: .other, message: "libcurl could not be initialised", attempts: 0)
        }
        self.options = options
        self.retryPolicy = retryPolicy
        self.handle = handle
        self.queue = DispatchQueue(label: "outpost.curl.client")
    }

    /// Sends `request`, retrying transient failures; returns the first response below 400.
    ///
    /// Throws `TransportError` with kind `.httpStatus` (and the response) for a final status of
    /// 400 or more, or the transport failure of the last attempt, with the attempt count.
    public func send(_ request: HTTPRequest, progress: ProgressHandler? = nil) async throws(TransportError) -> HTTPResponse {
        var attempt = 0
        var lastStatus: Int?
        while true {
            attempt += 1
            let failure: TransportError
            var retryAfter: Duration?
            switch await performAttempt(request, progress: progress) {
            case .response(var response):
                response.attempts = attempt
                if response.status < 400 { return response }
                lastStatus = response.status
                failure = TransportError(
                    kind: .httpStatus(response.status),
                    message: Self.statusMessage(request, response),
                    attempts: attempt, lastStatus: response.status, response: response)
                if response.status == 429 || response.status >= 500 {
                    retryAfter = response.headers["retry-after"].flatMap { RetryPolicy.parseRetryAfter($0) }
                }
            case .failure(let kind, let message, let curlCode):
                failure = TransportError(
                    kind: kind, message: message, attempts: attempt, lastStatus: lastStatus, curlCode: curlCode)
            }
            guard attempt < retryPolicy.maxAttempts, retryPolicy.isRetryable(failure.kind) else {
                throw failure
            }
            do {
                try await Task.sleep(for: retryPolicy.delay(afterAttempt: attempt, retryAfter: retryAfter))
            } catch {
                throw TransportError(
                    kind: .cancelled,
                    message: "\(CurlEasyHandle.label(request)): cancelled while waiting to retry after: \(failure.message)",
                    attempts: attempt, lastStatus: lastStatus, response: failure.response,
                    curlCode: failure.curlCode)
            }
        }
    }

    /// Runs one attempt on the client's queue, bridged with a checked continuation; task
    /// cancellation aborts the transfer through libcurl's progress callback.
    private func performAttempt(_ request: HTTPRequest, progress: ProgressHandler?) async -> AttemptOutcome {
        let cancellation = CancellationFlag()
        if Task.isCancelled { cancellation.cancel() }
        let options = self.options
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<AttemptOutcome, Never>) in
                queue.async {
                    let outcome = self.handle.perform(
                        request, options: options, cancellation: cancellation, progress: progress)
                    continuation.resume(returning: outcome)
                }
            }
        } onCancel: {
            cancellation.cancel()
        }
    }

    /// "HTTP 404 from GET http://host/path: <start of body>".
    private static func statusMessage(_ request: HTTPRequest, _ response: HTTPResponse) -> String {
        var message = "HTTP \(response.status) from \(CurlEasyHandle.label(request))"
        let snippet = response.text.prefix(200).trimmingCharacters(in: .whitespacesAndNewlines)
        if !snippet.isEmpty && !snippet.contains("\u{FFFD}") {
            message += ": \(snippet)"
        }
        return message
    }
}
