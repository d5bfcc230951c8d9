import Foundation

/// Encodes a list of items into bytes on a thread of its own, a few chunks ahead of the one
/// consumer that takes them in order.
///
/// A large transaction (an import, a bundle, a sync batch) spends a third of its time encoding
/// change bodies and record states, and the rest in SQLite. With the encoding here, the
/// connection's thread only binds and steps while the second core encodes what comes next.
/// At most `lookahead` chunks wait at a time, so memory stays small however many items there are.
///
/// An item whose encoder throws yields nil; the consumer then encodes it itself (on its own
/// thread, with whatever it needs that the encoder could not safely touch).
final class EncodingPipeline<Item: Sendable> {
    private let shared: SharedState
    private let chunkSize: Int
    private var current = EncodedChunk()
    private var currentChunk = -1

    /// Starts encoding `items` on a new thread; take the results with `withEncoded(at:_:)`, in order.
    init(
        items: [Item], chunkSize: Int = 256, lookahead: Int = 8,
        encode: @escaping @Sendable (Item, inout [UInt8]) throws -> Void
    ) {
        self.chunkSize = max(1, chunkSize)
        let shared = SharedState(items: items, chunkSize: self.chunkSize, lookahead: max(1, lookahead), encode: encode)
        self.shared = shared
        // The thread holds only the shared state: when the consumer drops the pipeline early
        // (its transaction failed), deinit stops the thread instead of leaving it waiting.
        let thread = Thread { shared.produce() }
        thread.name = "outpost-encoder"
        thread.start()
    }

    deinit { shared.cancel() }

    /// Calls `body` with item `index`'s bytes, or nil when its encoder threw. Indexes must be
    /// asked for in ascending order; the bytes are valid only inside `body`.
    func withEncoded<T>(at index: Int, _ body: (UnsafeRawBufferPointer?) throws -> T) rethrows -> T {
        let chunk = index / chunkSize
        if chunk != currentChunk {
            // Handed back without a second reference, so the encoder reuses its buffers as they are.
            let done = current
            current = EncodedChunk()
            current = shared.take(chunk, returning: done)
            currentChunk = chunk
        }
        let offset = index - chunk * chunkSize
        if current.failed.contains(offset) { return try body(nil) }
        let start = offset == 0 ? 0 : current.ends[offset - 1]
        return try current.bytes.withUnsafeBytes {
            try body(UnsafeRawBufferPointer(rebasing: $0[start..<current.ends[offset]]))
        }
    }

    /// The encoded items of one chunk back to back, where each ends, and which failed.
    private struct EncodedChunk: Sendable {
        var bytes: [UInt8] = []
        var ends: [Int] = []
        var failed: Set<Int> = []
    }

    /// What the encoder thread and the consumer share.
    private final class SharedState: @unchecked Sendable {
        // @unchecked Sendable: `items`, `encode`, `chunkSize` and `lookahead` never change after
        // init; `ready`, `consumedChunks` and `cancelled` are read and written only while
        // holding `condition`.
        private let items: [Item]
        private let encode: @Sendable (Item, inout [UInt8]) throws -> Void
        private let chunkSize: Int
        private let lookahead: Int
        private let condition = NSCondition()
        private var ready: [Int: EncodedChunk] = [:]
        /// Chunks the consumer is done with, their buffers kept for the next ones (large buffers
        /// freed and allocated again cost a page fault per page every time).
        private var spare: [EncodedChunk] = []
        private var consumedChunks = 0
        private var cancelled = false

        init(items: [Item], chunkSize: Int, lookahead: Int, encode: @escaping @Sendable (Item, inout [UInt8]) throws -> Void) {
            self.items = items
            self.chunkSize = chunkSize
            self.lookahead = lookahead
            self.encode = encode
        }

        /// Stops the encoder early; safe to call more than once.
        func cancel() {
            condition.lock()
            cancelled = true
            condition.broadcast()
            condition.unlock()
        }

        /// Waits for chunk `chunk`, hands it over and lets the encoder go on; `done` is the
        /// chunk the consumer had, for its buffers to be used again.
        func take(_ chunk: Int, returning done: consuming EncodedChunk) -> EncodedChunk {
            condition.lock()
            defer { condition.unlock() }
            if done.bytes.capacity > 0 { spare.append(done) }
            while ready[chunk] == nil { condition.wait() }
            consumedChunks = chunk + 1
            condition.broadcast()
            return ready.removeValue(forKey: chunk)!
        }

        /// The encoder thread: chunk after chunk, never more than `lookahead` ahead of the consumer.
        func produce() {
            var start = 0
            var chunk = 0
            while start < items.count {
                condition.lock()
                while !cancelled && chunk - consumedChunks >= lookahead { condition.wait() }
                let stop = cancelled
                var encoded = spare.popLast() ?? EncodedChunk()
                condition.unlock()
                if stop { return }
                let end = min(start + chunkSize, items.count)
                encoded.bytes.removeAll(keepingCapacity: true)
                encoded.ends.removeAll(keepingCapacity: true)
                encoded.failed.removeAll()
                encoded.ends.reserveCapacity(end - start)
                for (offset, item) in items[start..<end].enumerated() {
                    let mark = encoded.bytes.count
                    do {
                        try encode(item, &encoded.bytes)
                    } catch {
                        encoded.bytes.removeSubrange(mark...)
                        encoded.failed.insert(offset)
                    }
                    encoded.ends.append(encoded.bytes.count)
                }
                condition.lock()
                ready[chunk] = encoded
                condition.broadcast()
                condition.unlock()
                start = end
                chunk += 1
            }
        }
    }
}
