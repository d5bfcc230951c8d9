import Foundation
import OutpostCore
import Testing

@testable import OutpostStore

/// The encoder thread that runs ahead of a large transaction, and the applier with and without it.
@Suite struct EncodingPipelineTests {
    private struct Odd: Error {}

    @Test func givesEveryItemInOrderAndNilForFailures() throws {
        // More chunks than the lookahead, a last chunk that is not full, and failures anywhere
        // in a chunk (first, middle, last item).
        let items = Array(0..<1_003)
        let pipeline = EncodingPipeline(items: items, chunkSize: 16, lookahead: 2) { item, out in
            if item % 16 == 0 || item % 97 == 5 || item % 16 == 15 && item % 3 == 0 { throw Odd() }
            out.append(contentsOf: Array("item \(item);".utf8))
        }
        for item in items {
            let text = pipeline.withEncoded(at: item) { bytes in bytes.map { String(decoding: $0, as: UTF8.self) } }
            let fails = item % 16 == 0 || item % 97 == 5 || item % 16 == 15 && item % 3 == 0
            #expect(text == (fails ? nil : "item \(item);"), "item \(item)")
        }
    }

    @Test func anEmptyEncodingIsNotAFailure() throws {
        let pipeline = EncodingPipeline(items: [0, 1, 2], chunkSize: 2) { item, out in
            if item == 1 { out.append(7) }
        }
        #expect(pipeline.withEncoded(at: 0) { $0?.count } == 0)
        #expect(pipeline.withEncoded(at: 1) { $0.map(Array.init) } == [7])
        #expect(pipeline.withEncoded(at: 2) { $0?.count } == 0)
    }

    /// A consumer that stops early (its transaction failed) drops the pipeline; the encoder,
    /// waiting for room ahead, must stop instead of waiting for ever.
    @Test func droppingThePipelineStopsTheEncoder() async throws {
        let encoded = Counter()
        do {
            let pipeline = EncodingPipeline(items: Array(0..<10_000), chunkSize: 10, lookahead: 2) { _, out in
                encoded.add()
                out.append(1)
            }
            _ = pipeline.withEncoded(at: 0) { $0?.count }
        }
        try await Task.sleep(for: .milliseconds(200))
        let seen = encoded.value
        try await Task.sleep(for: .milliseconds(200))
        #expect(encoded.value == seen)
        #expect(seen <= 40, "the encoder ran \(seen) items ahead with a lookahead of 2 chunks of 10")
    }

    @Test func frozenNumberingKnowsOnlyWhatItWasGiven() throws {
        let known = ReplicaID.random()
        let numbering = FrozenReplicaNumbering(numbers: [known: 3], replicas: [3: known], reporters: [3: "ana"])
        #expect(try numbering.number(of: known) == 3)
        #expect(try numbering.replica(numbered: 3) == known)
        #expect(try numbering.reporter(numbered: 3) == "ana")
        #expect(throws: StoreError.self) { try numbering.number(of: .random()) }
        #expect(throws: StoreError.self) { try numbering.replica(numbered: 4) }
        #expect(throws: StoreError.self) { try numbering.reporter(numbered: 4) }
    }

    /// The same changes applied with the encoding on a second thread and on the writing thread
    /// leave the same log and the same states: new records, edits, conflicts, deletes, a
    /// restore, and changes held back until their deps arrive.
    @Test func applyingWithTheEncoderThreadStoresTheSame() throws {
        let changes = Self.mixedChanges()
        var logs: [[String]] = []
        var states: [[String: RecordState]] = []
        for threshold in [1, Int.max] {
            let dir = temporaryStoreDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let store = try Store.create(at: dir, reporter: "receiver")
            store.encodingPipelineThreshold = threshold
            // In three batches, so that later batches load and update records earlier ones wrote.
            let thirds = changes.count / 3
            let first = try store.applyRemote(Array(changes[..<thirds]))
            try store.applyRemote(Array(changes[thirds..<(2 * thirds)]))
            // The rest without its first 40 changes: those of its changes that depend on them
            // are held back, and applied once the 40 arrive.
            let rest = Array(changes[(2 * thirds)...])
            let held = try store.applyRemote(Array(rest.dropFirst(40)))
            let released = try store.applyRemote(Array(rest.prefix(40)))
            #expect(first.applied == thirds)
            #expect(held.heldBack > 0 && released.released == held.heldBack)
            #expect(held.applied + released.applied == rest.count)
            logs.append(
                try store.changes(afterSeq: 0, limit: 100_000, maxBytes: .max).changes.map {
                    String(decoding: $0.body, as: UTF8.self)
                })
            var byID: [String: RecordState] = [:]
            for record in try store.incidents(includeDeleted: true) { byID[record.id] = try store.recordState(id: record.id) }
            states.append(byID)
        }
        #expect(logs[0].count == changes.count)
        #expect(logs[0] == logs[1])
        #expect(states[0].count > 100)
        #expect(states[0] == states[1])
    }

    /// Changes from four replicas over 150 records: creations, edits made with and without
    /// seeing each other's (concurrent edits), deletes and restores. Each replica edits from
    /// its own view of a record, and views merge now and then, as syncs would merge them.
    static func mixedChanges() -> [Change] {
        var random = SplitMix64(seed: 7)
        let replicas = (0..<4).map { _ in ReplicaID.random() }
        var counters = [UInt64](repeating: 0, count: 4)
        var views = [[Int: VersionVector]](repeating: [:], count: 4)
        var changes: [Change] = []
        var ms: Int64 = 1_767_225_600_000
        for step in 0..<1_200 {
            let author = Int(random.next() % 4)
            if random.next() % 5 == 0 {
                // A sync: the author and another replica learn what each other have.
                let other = (author + 1 + Int(random.next() % 3)) % 4
                for record in Set(views[author].keys).union(views[other].keys) {
                    var merged = views[author][record] ?? VersionVector()
                    for (replica, counter) in (views[other][record] ?? VersionVector()).entries {
                        merged[replica] = max(merged[replica], counter)
                    }
                    views[author][record] = merged
                    views[other][record] = merged
                }
            }
            let known = views[author].keys.sorted()
            let record = step < 150 || known.isEmpty ? step % 150 : known[Int(random.next() % UInt64(known.count))]
            let deps = views[author][record] ?? VersionVector()
            var writes: [String: JSONValue]
            if deps.entries.isEmpty {
                guard step < 150 else { continue }
                writes = ["title": .string("incident \(record)"), "killed": .int(Int64(record)), "lat": .double(12.5)]
            } else {
                switch random.next() % 10 {
                case 0: writes = [Change.deletedField: .bool(true)]
                case 1: writes = [Change.deletedField: .bool(false)]
                case 2: writes = ["narrative": .null]
                default: writes = ["narrative": .string("edit \(step) by \(author)"), "status": "submitted"]
                }
            }
            counters[author] += 1
            ms += Int64(random.next() % 3)
            changes.append(
                TestKeys.signed(
                    Change(
                        dot: Dot(replica: replicas[author], counter: counters[author]), record: RecordKey(id: "r\(record)"),
                        deps: deps, tag: HLCTag(ms: ms, seq: 0), writes: writes, reporter: "reporter \(author)")))
            var view = deps
            view[replicas[author]] = counters[author]
            views[author][record] = view
        }
        return changes
    }
}

/// A thread-safe counter.
private final class Counter: @unchecked Sendable {
    // @unchecked Sendable: `count` is read and written only while holding `lock`.
    private let lock = NSLock()
    private var count = 0

    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
