import Dispatch
import Foundation
import OutpostStore

/// Indexes the text of the incidents that sync batches made pending (`query_text_pending`) off
/// the apply path: on the sync queue, between batches, once no batch (push or pull) has come for
/// `idleDelay` seconds (and under a steady stream of batches one step every `busyInterval`
/// seconds), `batch` incidents per transaction (short steps: a batch waits for one at most). Until then text queries decide pending incidents
/// by their current state (`Store.pendingText`), so nothing is ever missed; a stop leaves the
/// list in the store, and the next start indexes it (`Store.enableQueryIndexes`).
final class QueryTextIndexer: @unchecked Sendable {
    // @unchecked Sendable: `generation`, `scheduled` and `lastStep` are only used under `lock`;
    // `store` is Sendable and locks itself; the queue is thread-safe.
    private let store: Store
    private let queue: DispatchQueue
    private let idleDelay: Double
    private let busyInterval: Double
    private let batch: Int
    private let lock = NSLock()
    /// How many applies were announced (`applied()`).
    private var generation = 0
    /// Whether a step is scheduled (then `applied()` schedules none).
    private var scheduled = false
    private var lastStep = DispatchTime.now()

    /// An indexer of `store` running on `queue` (the sync queue, so its steps and batches take
    /// turns); `idleDelay` infinite: only `drainNow` indexes (tests).
    init(store: Store, queue: DispatchQueue, idleDelay: Double = 0.25, busyInterval: Double = 5, batch: Int = 500) {
        self.store = store
        self.queue = queue
        self.idleDelay = idleDelay
        self.busyInterval = busyInterval
        self.batch = batch
    }

    /// Announces a sync batch; `applied`: it may have made text pending (then a step is
    /// scheduled unless one is).
    func batch(applied: Bool) {
        guard idleDelay.isFinite else { return }
        let seen: Int? = lock.withLock {
            generation += 1
            guard applied, !scheduled else { return nil }
            scheduled = true
            return generation
        }
        if let seen { later(seen) }
    }

    private func later(_ seen: Int) {
        queue.asyncAfter(deadline: .now() + idleDelay) { [self] in step(seen: seen) }
    }

    /// One step on the queue: index a batch when no apply came since `seen` (or the last step is
    /// `busyInterval` old), else wait for the next quiet moment.
    private func step(seen: Int) {
        let (idle, current) = lock.withLock {
            (
                generation == seen
                    || Double(DispatchTime.now().uptimeNanoseconds - lastStep.uptimeNanoseconds) / 1e9 > busyInterval,
                generation
            )
        }
        guard idle else { return later(current) }
        // A failure leaves the list as it was: queries stay exact, and the next apply retries.
        let drained = (try? store.drainQueryTextIndex(limit: batch)) ?? 0
        let next: Int? = lock.withLock {
            lastStep = DispatchTime.now()
            guard drained == batch || generation != current else {
                scheduled = false
                return nil
            }
            return generation
        }
        guard let next else { return }
        // More pending: go on right away unless a batch came meanwhile (it runs first).
        if next == current { queue.async { [self] in step(seen: next) } } else { later(next) }
    }

    /// Indexes every pending incident now, on the queue (tests, and a server asked to).
    func drainNow() async throws {
        let store = store
        let batch = batch
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            queue.async {
                continuation.resume(with: Result { while try store.drainQueryTextIndex(limit: batch) > 0 {} })
            }
        }
    }
}
