import Foundation
import OutpostCore
import OutpostStore
import Testing

@testable import OutpostSync

/// An error a test transport throws on purpose.
struct LinkDropped: Error {}

/// Counts what a transport receives and can drop the link before (or after) its Nth batch.
final class FlakyTransport: SyncTransport, @unchecked Sendable {
    // @unchecked Sendable: used from one task at a time in these tests; the lock guards the counters anyway.
    let inner: StoreTransport
    private let lock = NSLock()
    private var batches = 0
    private var changes = 0
    /// Throw when this many batches have been received (nil: never).
    let failAfterBatches: Int?
    /// When failing, apply the batch first (the acknowledgement is what gets lost).
    let applyBeforeFailing: Bool

    init(_ store: Store, failAfterBatches: Int? = nil, applyBeforeFailing: Bool = false) {
        inner = StoreTransport(store: store)
        self.failAfterBatches = failAfterBatches
        self.applyBeforeFailing = applyBeforeFailing
    }

    var batchCount: Int { lock.withLock { batches } }
    var changeCount: Int { lock.withLock { changes } }

    func summary() async throws -> SyncSummary { try await inner.summary() }

    func changes(missingFrom summary: SyncSummary, afterSeq: Int64, limit: Int, maxBytes: Int) async throws -> ChangeBatch {
        try await inner.changes(missingFrom: summary, afterSeq: afterSeq, limit: limit, maxBytes: maxBytes)
    }

    func roster() async throws -> [RosterEntry] { try await inner.roster() }

    func receiveRoster(_ entries: [RosterEntry]) async throws -> RosterUpdate { try await inner.receiveRoster(entries) }

    func receive(_ batch: [Change]) async throws -> ApplyReport {
        let failing = lock.withLock { failAfterBatches.map { batches >= $0 } ?? false }
        if failing {
            if applyBeforeFailing { _ = try await inner.receive(batch) }
            throw LinkDropped()
        }
        let report = try await inner.receive(batch)
        lock.withLock {
            batches += 1
            changes += batch.count
        }
        return report
    }
}

/// Two stores in a temporary folder; `a` has `records` incidents with a few edits each, interleaved.
func twoStores(records: Int = 5, label: String) throws -> (Cluster, total: Int) {
    let cluster = try Cluster(replicas: 2, label: label)
    let a = cluster.store(0)
    var total = 0
    for r in 0..<records {
        try a.create(id: "r\(r)", fields: ["title": .string("Incident \(r)")], wallMs: 1000 + Int64(r))
        total += 1
    }
    for round in 0..<4 {
        for r in 0..<records {
            try a.update(id: "r\(r)", fields: ["killed": .int(Int64(round))], wallMs: 2000 + Int64(round))
            total += 1
        }
    }
    return (cluster, total)
}

@Suite struct SyncSessionTests {
    @Test func tinyBatchesCarryEverything() async throws {
        let (cluster, total) = try twoStores(label: "batches")
        let receiver = FlakyTransport(cluster.store(1))
        let result = try await SyncSession(batchLimit: 3).send(from: StoreTransport(store: cluster.store(0)), to: receiver)
        #expect(result.count == total)
        #expect(result.report.applied == total && result.report.heldBack == 0)
        #expect(receiver.batchCount == (total + 2) / 3)
        #expect(try cluster.store(1).summary() == cluster.store(0).summary())
        #expect(try fullState(cluster.store(1)) == fullState(cluster.store(0)))
        // Nothing left to send.
        let again = try await SyncSession(batchLimit: 3).run(
            StoreTransport(store: cluster.store(0)), StoreTransport(store: cluster.store(1)))
        #expect(again.sent == 0 && again.received == 0)
    }

    @Test func aByteBoundAlsoSplitsBatches() async throws {
        let (cluster, total) = try twoStores(label: "bytes")
        let receiver = FlakyTransport(cluster.store(1))
        let result = try await SyncSession(batchLimit: 1000, batchBytes: 1).send(
            from: StoreTransport(store: cluster.store(0)), to: receiver)
        #expect(result.count == total)
        #expect(receiver.batchCount == total)
    }

    @Test(arguments: [false, true])
    func anInterruptedSessionResumesWithoutResending(applyBeforeFailing: Bool) async throws {
        let (cluster, total) = try twoStores(label: "resume")
        let a = StoreTransport(store: cluster.store(0))
        let first = FlakyTransport(cluster.store(1), failAfterBatches: 3, applyBeforeFailing: applyBeforeFailing)
        await #expect(throws: LinkDropped.self) { try await SyncSession(batchLimit: 4).send(from: a, to: first) }
        #expect(first.changeCount == 12)
        // When the last batch was applied but its acknowledgement lost, the receiver holds it too.
        let held = applyBeforeFailing ? 16 : 12
        #expect(try cluster.store(1).status().totalChanges == Int64(held))

        let second = FlakyTransport(cluster.store(1))
        let resumed = try await SyncSession(batchLimit: 4).send(from: a, to: second)
        #expect(resumed.count == total - held)
        #expect(resumed.report.duplicates == 0)
        #expect(first.changeCount + second.changeCount + (held - 12) == total)
        #expect(try cluster.store(1).summary() == cluster.store(0).summary())
        #expect(try fullState(cluster.store(1)) == fullState(cluster.store(0)))
    }

    @Test func twoWaySyncMovesBothDirections() async throws {
        let cluster = try Cluster(replicas: 2, label: "twoway")
        try cluster.store(0).create(id: "a", fields: ["title": "From a"], wallMs: 1)
        try cluster.store(1).create(id: "b", fields: ["title": "From b"], wallMs: 1)
        let report = try await SyncSession().run(StoreTransport(store: cluster.store(0)), StoreTransport(store: cluster.store(1)))
        #expect(report.sent == 1 && report.received == 1)
        #expect(try cluster.store(0).incidents().count == 2)
        #expect(try fullState(cluster.store(0)) == fullState(cluster.store(1)))
    }

    /// A change whose deps are missing is held back at the receiver and sent on (still held) to a
    /// third replica; both apply it once the create arrives by another path.
    @Test func heldBackChangesTravelAndAreReleased() async throws {
        let cluster = try Cluster(replicas: 4, label: "holdback")
        let (a, b, c, d) = (cluster.store(0), cluster.store(1), cluster.store(2), cluster.store(3))
        let create = try a.create(id: "r1", fields: ["title": "Ambush"], wallMs: 1000)
        try b.applyRemote([create])
        let edit = try b.update(id: "r1", fields: ["injured": 2], wallMs: 500)
        #expect(try c.applyRemote([edit]).heldBack == 1)
        _ = try await SyncSession().send(from: StoreTransport(store: c), to: StoreTransport(store: d))
        #expect(try d.status().heldBackChanges == 1)
        #expect(try d.incident(id: "r1") == nil)
        _ = try await SyncSession().send(from: StoreTransport(store: a), to: StoreTransport(store: d))
        #expect(try d.status().heldBackChanges == 0)
        #expect(try d.incident(id: "r1")?.fields == ["title": "Ambush", "injured": 2])
        _ = try await SyncSession().run(StoreTransport(store: c), StoreTransport(store: d))
        #expect(try fullState(c) == fullState(d))
        #expect(try c.summary() == d.summary())
    }
}

@Suite struct BundleTests {
    @Test func aBundleAppliedTwiceChangesNothingTheSecondTime() throws {
        let (cluster, total) = try twoStores(label: "bundle")
        let (file, count) = try cluster.store(0).bundle()
        #expect(count == total)
        let first = try cluster.store(1).applyBundle(file)
        #expect(first.applied == total)
        let before = try fullState(cluster.store(1))
        let second = try cluster.store(1).applyBundle(file)
        #expect(second.applied == 0 && second.duplicates == total)
        #expect(try fullState(cluster.store(1)) == before)
        #expect(before == (try fullState(cluster.store(0))))
    }

    @Test func damagedBundlesAreRefusedWithNothingApplied() throws {
        let (cluster, _) = try twoStores(records: 2, label: "damaged")
        let (file, _) = try cluster.store(0).bundle()
        let target = cluster.store(1)
        for cut in [1, 10, file.count / 2, file.count - 1] {
            #expect(throws: BundleError.self) { try target.applyBundle(Array(file.prefix(cut))) }
        }
        // Flip one byte anywhere after the gzip header's unchecked fields (mtime, flags, OS). A
        // flip may leave deflate's output as it was (now and then a changed Huffman table that
        // codes the same symbols): what it carries is then the bundle itself, checked by its CRC,
        // and taking it is right. Every other flip is refused.
        let content = try Gzip.decompress(file, maxOutput: 1 << 24)
        var same = 0
        for position in 10..<file.count {
            var damaged = file
            damaged[position] ^= 0xFF
            if (try? Gzip.decompress(damaged, maxOutput: 1 << 24)) == content {
                same += 1
                continue
            }
            #expect(throws: (any Error).self, "flipped byte \(position) accepted") { try target.applyBundle(damaged) }
        }
        #expect(same < 3)
        #expect(try target.status().totalChanges == 0)
        #expect(try target.incidents(includeDeleted: true).isEmpty)
        // A summary file is not a bundle of changes.
        #expect(throws: BundleError.self) { try target.applyBundle(try target.summaryFile()) }
        #expect(try target.status().totalChanges == 0)
    }

    @Test func aSummaryBasedBundleCarriesOnlyWhatThePeerLacks() async throws {
        let (cluster, total) = try twoStores(label: "summary")
        let (a, b) = (cluster.store(0), cluster.store(1))
        // b gets the first 7 changes of a, then makes one of its own.
        _ = try b.applyRemote(Array(try allChanges(a).prefix(7)))
        try b.update(id: "r0", fields: ["place_name": "Gao"], wallMs: 9000)
        guard case .summary(let summary) = try BundleFile.decode(try b.summaryFile()) else {
            Issue.record("a summary file did not decode as a summary")
            return
        }
        #expect(summary == (try b.summary()))
        let (file, count) = try a.bundle(for: summary)
        #expect(count == total - 7)
        guard case .changes(let changes) = try BundleFile.decode(file) else {
            Issue.record("a bundle did not decode as changes")
            return
        }
        #expect(changes.allSatisfy { !summary.contains($0.dot) })
        let report = try b.applyBundle(file)
        #expect(report.applied == total - 7 && report.duplicates == 0)
        #expect(try b.summary().entries[a.replica] == a.summary().entries[a.replica])
    }

    @Test func gzipRoundTrips() throws {
        var rng = SplitMix64(seed: 7)
        let inputs: [[UInt8]] = [
            [], [0], Array("hello, Gao".utf8), Array(repeating: 0x41, count: 200_000),
            (0..<70_000).map { _ in UInt8.random(in: 0...255, using: &rng) },
            Array(String(repeating: "ⵜⵉⵏⴱⵓⴽⵜⵓ هجوم 🔥 ", count: 3000).utf8),
        ]
        for input in inputs {
            let packed = try Gzip.compress(input)
            #expect(Gzip.isGzip(packed))
            #expect(try Gzip.decompress(packed, maxOutput: 1 << 20) == input)
        }
        let big = try Gzip.compress(Array(repeating: 0, count: 100_000))
        #expect(throws: GzipError.self) { try Gzip.decompress(big, maxOutput: 1000) }
        let text = try Gzip.compress(Array("some text to compress, some text to compress".utf8))
        #expect(throws: GzipError.self) { try Gzip.decompress(Array(text.dropLast(5)), maxOutput: 1 << 20) }
        #expect(throws: GzipError.self) { try Gzip.decompress(text + [1, 2, 3], maxOutput: 1 << 20) }
    }

    /// A stream compressed in two parts (the start ahead, the end later) is one valid gzip stream of both.
    @Test func gzipPartsMakeOneStream() throws {
        var rng = SplitMix64(seed: 11)
        let texts: [[UInt8]] = [
            [], Array("{\"changes\":[".utf8), Array(String(repeating: "{\"title\":\"Gao ⵜⵉⵏⴱⵓⴽⵜⵓ\"},", count: 40_000).utf8),
            (0..<90_000).map { _ in UInt8.random(in: 0...255, using: &rng) },
        ]
        for start in texts {
            for end in texts {
                let stream = try Gzip.finish(try Gzip.part(start), with: end)
                #expect(Gzip.isGzip(stream))
                #expect(try Gzip.decompress(stream, maxOutput: 1 << 22) == start + end)
            }
        }
    }

    /// The sync level round-trips; output far larger than the first guess (16× the input) grows
    /// as needed, and the limit holds exactly however the buffer grew.
    @Test func gzipGrowsPastItsFirstGuessAndKeepsTheLimit() throws {
        let zeros = [UInt8](repeating: 0, count: 3_000_000)
        let packed = try Gzip.compress(zeros, level: Gzip.syncLevel)
        #expect(packed.count * 16 < zeros.count)
        #expect(try Gzip.decompress(packed, maxOutput: zeros.count) == zeros)
        #expect(throws: GzipError.self) { try Gzip.decompress(packed, maxOutput: zeros.count - 1) }
        let text = Array(String(repeating: "{\"title\":\"Gao\",\"killed\":3} ", count: 20_000).utf8)
        let fast = try Gzip.compress(text, level: Gzip.syncLevel)
        #expect(fast.count < text.count / 4)
        #expect(try Gzip.decompress(fast, maxOutput: text.count) == text)
        #expect(try Gzip.decompress(try Gzip.compress([], level: Gzip.syncLevel), maxOutput: 0) == [])
    }
}
