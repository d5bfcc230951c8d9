import Foundation

/// A few HTTP clients (each its own libcurl handle and connection) lent out one at a time, so
/// that as many exchanges as there are clients run at once.
final class CurlClientPool: @unchecked Sendable {
    // @unchecked Sendable: `busy` is only read and written while holding `lock`; `clients` is an
    // immutable array of Sendable clients.
    private let clients: [CurlHTTPClient]
    private let lock = NSLock()
    private var busy: [Bool]

    /// Makes `count` (at least one) clients with the same settings.
    init(count: Int, options: CurlOptions, retryPolicy: RetryPolicy) throws(TransportError) {
        var made: [CurlHTTPClient] = []
        for _ in 0..<max(1, count) { made.append(try CurlHTTPClient(options: options, retryPolicy: retryPolicy)) }
        clients = made
        busy = Array(repeating: false, count: made.count)
    }

    /// How many clients the pool holds.
    var count: Int { clients.count }

    /// Sends `request` on an idle client (or, when all are busy, queues it behind the first).
    func send(_ request: HTTPRequest, progress: CurlHTTPClient.ProgressHandler?) async throws(TransportError) -> HTTPResponse {
        let index = borrow()
        defer { giveBack(index) }
        return try await clients[index ?? 0].send(request, progress: progress)
    }

    /// An idle client's index, now marked busy; nil when every client is busy.
    private func borrow() -> Int? {
        lock.withLock {
            guard let index = busy.firstIndex(of: false) else { return nil }
            busy[index] = true
            return index
        }
    }

    private func giveBack(_ index: Int?) {
        guard let index else { return }
        lock.withLock { busy[index] = false }
    }
}
