import Foundation

/// A thread-safe one-way flag set by a task's cancellation handler and polled by libcurl's
/// progress callback on the client's queue.
final class CancellationFlag: @unchecked Sendable {
    // @unchecked Sendable: the only mutable state, `cancelled`, is read and written under `lock`.
    private let lock = NSLock()
    private var cancelled = false

    /// Marks the transfer as cancelled.
    func cancel() {
        lock.withLock { cancelled = true }
    }

    /// Whether `cancel()` has been called.
    var isCancelled: Bool {
        lock.withLock { cancelled }
    }
}
