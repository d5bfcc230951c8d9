import Foundation

/// The outcome of whichever of two tasks ends first; the other is cancelled and not awaited.
final class FirstOf<T: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `continuation` is only taken under `lock`, so it is resumed exactly once.
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?

    private init() {}

    private func finish(_ result: Result<T, any Error>) {
        let waiting = lock.withLock { () -> CheckedContinuation<T, any Error>? in
            defer { continuation = nil }
            return continuation
        }
        waiting?.resume(with: result)
    }

    /// Runs `first` and `second` as tasks and returns (or throws) the result of the one that ends first.
    static func race(
        _ first: @escaping @Sendable () async throws -> T, _ second: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let box = FirstOf<T>()
        var tasks: [Task<Void, Never>] = []
        defer { for task in tasks { task.cancel() } }
        return try await withCheckedThrowingContinuation { continuation in
            box.lock.withLock { box.continuation = continuation }
            for body in [first, second] {
                tasks.append(
                    Task {
                        do { box.finish(.success(try await body())) } catch { box.finish(.failure(error)) }
                    })
            }
        }
    }
}
