import Foundation
import OutpostStore

/// The stores a command opened, checkpointed when the command ends (`OutpostCommand.execute`),
/// so no page image of a deleted or overwritten value stays behind in the WAL.
final class OpenedStores: @unchecked Sendable {
    // @unchecked Sendable: `stores` is read and written only while holding `lock`.
    private let lock = NSLock()
    private var stores: [Store] = []

    /// The one registry of this process.
    static let shared = OpenedStores()

    /// Remembers `store` until the command ends and returns it.
    func register(_ store: Store) -> Store {
        lock.withLock { stores.append(store) }
        return store
    }

    /// Checkpoints and truncates the WAL of every store opened since the last call, then lets go
    /// of them. A store another process still uses is left to that process; a failure here
    /// changes nothing stored, so it never turns a finished command into a failed one.
    func checkpointAll() {
        let opened = lock.withLock {
            defer { stores.removeAll() }
            return stores
        }
        for store in opened { _ = try? store.checkpointAndTruncate() }
    }
}
