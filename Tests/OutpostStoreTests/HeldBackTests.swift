import Foundation
import OutpostCore
import Testing

@testable import OutpostStore

/// A change of `author` to record `id` with the given deps and writes (tag ms = counter).
private func change(
    _ author: ReplicaID, _ counter: UInt64, id: String, deps: [ReplicaID: UInt64] = [:],
    writes: [String: JSONValue] = [:]
) -> Change {
    TestKeys.signed(
        Change(
            dot: Dot(replica: author, counter: counter), record: RecordKey(id: id), deps: VersionVector(deps),
            tag: HLCTag(ms: Int64(counter), seq: 0), writes: writes, reporter: nil))
}

/// `count` changes of `author` to one record, each depending on the one before (a chain), in order.
private func chain(_ author: ReplicaID, id: String, count: Int) -> [Change] {
    (1...count).map { i in
        let writes: [String: JSONValue] = i == 1 ? ["title": "Chain", "killed": 1] : ["killed": .int(Int64(i))]
        return change(author, UInt64(i), id: id, deps: i == 1 ? [:] : [author: UInt64(i - 1)], writes: writes)
    }
}

/// Rows of the store's log that are held back (`applied = 0`), and the waits indexing them.
private func heldRows(_ store: Store) throws -> (held: Int64, waits: Int64) {
    let held = try store.db.prepare("SELECT count(*) FROM changes WHERE applied = 0").first { $0.int(0) } ?? -1
    let waits = try store.db.prepare("SELECT count(*) FROM held_waits").first { $0.int(0) } ?? -1
    return (held, waits)
}

/// A store in a fresh folder, removed when the test ends (`defer` the returned cleanup).
/// With `encrypted`, the store seals its content (the same behaviour is expected either way).
private func freshStore(_ reporter: String, replica: ReplicaID = .random(), encrypted: Bool = false) throws -> (
    Store, () -> Void
) {
    let dir = temporaryStoreDirectory()
    let store = try Store.create(at: dir, reporter: reporter, replica: replica, cipher: TestCipher.cipher(encrypted))
    return (store, { try? FileManager.default.removeItem(atPath: dir) })
}

@Suite struct HeldBackTests {
    let alice = ReplicaID(bytes: Array("alice".utf8))
    let mallory = ReplicaID(bytes: Array("mallory".utf8))
    let ghost = ReplicaID(bytes: Array("ghost".utf8))

    @Test(arguments: [false, true]) func aReversedChainOfAThousandInOneBatchAppliesFully(encrypted: Bool) throws {
        let (store, cleanup) = try freshStore("bob", encrypted: encrypted)
        defer { cleanup() }
        let (inOrder, cleanupOrder) = try freshStore("carol", encrypted: encrypted)
        defer { cleanupOrder() }
        let changes = chain(alice, id: "r1", count: 1000)
        let report = try store.applyRemote(changes.reversed())
        #expect(report.applied == 1000)
        #expect(report.heldBack == 999)
        #expect(report.released == 999)
        // Held in this batch: released from memory, no body read back from the log.
        #expect(store.heldBackBodiesParsed == 0)
        try inOrder.applyRemote(changes)
        #expect(try store.recordState(id: "r1") == (try inOrder.recordState(id: "r1")))
        #expect(try store.incident(id: "r1")?.fields == ["title": "Chain", "killed": 1000])
        let history = try store.history(id: "r1")
        #expect(history.count == 1000 && history.allSatisfy(\.applied))
        #expect(history.map(\.change.dot.counter) == Array(1...1000))
        #expect(try heldRows(store) == (0, 0))
        #expect(try store.status().heldBackChanges == 0)
        #expect(try store.summary().entries[alice]?.contiguous == 1000)
    }

    @Test(arguments: [false, true]) func heldChangesReleasedByALaterBatchAreEachParsedOnce(encrypted: Bool) throws {
        let (store, cleanup) = try freshStore("bob", encrypted: encrypted)
        defer { cleanup() }
        let changes = chain(alice, id: "r1", count: 1000)
        let held = try store.applyRemote(changes.dropFirst().reversed())
        #expect(held.heldBack == 999 && held.applied == 0)
        #expect(try heldRows(store) == (999, 999))
        // None of them is relayed while held: a pull skips them and its cursor passes them.
        let pulled = try store.changes(afterSeq: 0)
        #expect(pulled.changes.isEmpty)
        #expect(pulled.nextSeq == (try store.lastSeq()))
        let report = try store.applyRemote([changes[0]])
        #expect(report.applied == 1000 && report.released == 999)
        #expect(store.heldBackBodiesParsed == 999)
        #expect(try store.incident(id: "r1")?.fields == ["title": "Chain", "killed": 1000])
        #expect(try heldRows(store) == (0, 0))
        // Once applied they move past the cursor, in causal order.
        let after = try store.changes(afterSeq: pulled.nextSeq, limit: 5000)
        #expect(after.changes.map(\.counter) == Array(1...1000))
    }

    @Test(arguments: [false, true]) func tenThousandHeldForeverChangesDoNotSlowLaterEdits(encrypted: Bool) throws {
        let (store, cleanup) = try freshStore("bob", encrypted: encrypted)
        defer { cleanup() }
        try store.applyRemote([change(alice, 1, id: "r1", writes: ["title": "Target"])])
        // 10,000 changes (the default bound exactly) wait for a ghost's change that never comes.
        let poison = (1...10_000).map { i in
            change(mallory, UInt64(i), id: "r1", deps: [alice: 1, ghost: 1], writes: ["killed": .int(Int64(i))])
        }
        let held = try store.applyRemote(poison)
        #expect(held.heldBack == 10_000)
        #expect(try heldRows(store) == (10_000, 10_000))
        // Later edits of the record apply without reading any held change back.
        for i in 2...40 {
            let report = try store.applyRemote([
                change(alice, UInt64(i), id: "r1", deps: [alice: UInt64(i - 1)], writes: ["injured": .int(Int64(i))])
            ])
            #expect(report.applied == 1)
        }
        for i in 0..<10 { try store.update(id: "r1", fields: ["status": .string(i % 2 == 0 ? "verified" : "disputed")]) }
        #expect(store.heldBackBodiesParsed == 0)
        #expect(try store.incident(id: "r1")?.fields["injured"] == 40)
        // One more from mallory is past the bound, and refused.
        #expect {
            try store.applyRemote([change(mallory, 10_001, id: "r1", deps: [ghost: 1], writes: ["killed": 1])])
        } throws: { ($0 as? StoreError)?.kind == .tooManyHeldBack }
        #expect(try heldRows(store) == (10_000, 10_000))
    }

    @Test(arguments: [false, true]) func theHeldBackBoundRefusesTheWholeBatch(encrypted: Bool) throws {
        let (store, cleanup) = try freshStore("bob", encrypted: encrypted)
        defer { cleanup() }
        let limits = HeldBackLimits(changesPerAuthor: 3, missingDepsPerAuthor: 5)
        try store.applyRemote(
            (1...3).map { change(mallory, UInt64($0), id: "m\($0)", deps: [ghost: 1], writes: ["killed": 1]) },
            heldBackLimits: limits)
        let before = try store.lastSeq()
        let good = change(alice, 1, id: "fine", writes: ["title": "Fine"])
        #expect {
            try store.applyRemote(
                [good, change(mallory, 4, id: "m4", deps: [ghost: 1], writes: ["killed": 1])], heldBackLimits: limits)
        } throws: { error in
            let e = error as? StoreError
            return e?.kind == .tooManyHeldBack && e?.message.contains(self.mallory.hex) == true
                && e?.message.contains("nothing of this batch was stored") == true
        }
        #expect(try store.lastSeq() == before)
        #expect(try store.incident(id: "fine") == nil)
        // Too many missing dependencies in one change is refused the same way.
        let (other, cleanupOther) = try freshStore("carol", encrypted: encrypted)
        defer { cleanupOther() }
        let wide = Dictionary(uniqueKeysWithValues: (0..<6).map { (ReplicaID(bytes: [UInt8($0)]), UInt64(1)) })
        #expect {
            try other.applyRemote([change(mallory, 1, id: "w", deps: wide, writes: ["killed": 1])], heldBackLimits: limits)
        } throws: { ($0 as? StoreError)?.kind == .tooManyHeldBack }
        // Another author is not held to mallory's count, and released changes free the bound.
        try store.applyRemote(
            [good, change(alice, 2, id: "a2", deps: [ghost: 1], writes: ["killed": 2])], heldBackLimits: limits)
        let released = try store.applyRemote([change(ghost, 1, id: "a2", writes: ["title": "Ghost"])], heldBackLimits: limits)
        #expect(released.released == 1)
        #expect(try heldRows(store).held == 3)
    }

    @Test(arguments: [false, true]) func releasedChangesFreeTheirAuthorsBound(encrypted: Bool) throws {
        let (store, cleanup) = try freshStore("bob", encrypted: encrypted)
        defer { cleanup() }
        let limits = HeldBackLimits(changesPerAuthor: 2, missingDepsPerAuthor: 2)
        let c = chain(alice, id: "r1", count: 7)
        #expect(try store.applyRemote([c[2], c[1]], heldBackLimits: limits).heldBack == 2)
        #expect(try store.applyRemote([c[0]], heldBackLimits: limits).released == 2)
        #expect(try store.applyRemote([c[5], c[4]], heldBackLimits: limits).heldBack == 2)
        #expect { try store.applyRemote([c[6]], heldBackLimits: limits) } throws: {
            ($0 as? StoreError)?.kind == .tooManyHeldBack
        }
        // Releasing in the same batch frees the bound for the rest of it.
        let report = try store.applyRemote([c[3], c[6]], heldBackLimits: limits)
        #expect(report.applied == 4 && report.released == 2)
        #expect(try store.incident(id: "r1")?.fields["killed"] == 7)
        #expect(try heldRows(store) == (0, 0))
    }

    @Test(arguments: [false, true]) func aDotReusedForAnotherRecordIsRefusedAndNothingStored(encrypted: Bool) throws {
        let (store, cleanup) = try freshStore("server", encrypted: encrypted)
        defer { cleanup() }
        let x = change(mallory, 1, id: "X", writes: ["title": "X"])
        let y = change(mallory, 1, id: "Y", writes: ["title": "Y"])
        try store.applyRemote([x])
        let before = try store.lastSeq()
        #expect {
            try store.applyRemote([change(alice, 1, id: "other", writes: ["title": "Other"]), y])
        } throws: { error in
            let e = error as? StoreError
            return e?.kind == .reusedDot && e?.message.contains("reused dot") == true
                && e?.message.contains("incidents/X") == true
        }
        #expect(try store.lastSeq() == before)
        #expect(try store.incident(id: "Y") == nil)
        #expect(try store.incident(id: "other") == nil)
        #expect(try store.history(id: "Y").isEmpty)
        #expect(try store.history(id: "X").map(\.change) == [x])
        #expect(try store.changes(afterSeq: 0).changes.map(\.body) == [try bodyOf(x)])
        // In one batch, the second of the two is refused and the first is not kept either.
        let (fresh, cleanupFresh) = try freshStore("server", encrypted: encrypted)
        defer { cleanupFresh() }
        #expect { try fresh.applyRemote([x, y]) } throws: { ($0 as? StoreError)?.kind == .reusedDot }
        #expect(try fresh.lastSeq() == 0)
        #expect(try fresh.incident(id: "X") == nil)
    }

    @Test(arguments: [false, true]) func aDotReusedWithOtherContentForTheSameRecordIsRefused(encrypted: Bool) throws {
        let (store, cleanup) = try freshStore("server", encrypted: encrypted)
        defer { cleanup() }
        let x = change(mallory, 1, id: "X", writes: ["title": "First"])
        try store.applyRemote([x])
        #expect {
            try store.applyRemote([change(mallory, 1, id: "X", writes: ["title": "Second"])])
        } throws: { ($0 as? StoreError)?.kind == .reusedDot }
        #expect(try store.incident(id: "X")?.fields["title"] == "First")
    }

    @Test(arguments: [false, true]) func exactDuplicatesStayIdempotent(encrypted: Bool) throws {
        let (store, cleanup) = try freshStore("bob", encrypted: encrypted)
        defer { cleanup() }
        let first = change(alice, 1, id: "r1", writes: ["title": "T"])
        let held = change(alice, 3, id: "r1", deps: [alice: 2], writes: ["killed": 3])
        let one = try store.applyRemote([first, first, held, held])
        #expect(one.applied == 1 && one.duplicates == 2 && one.heldBack == 1)
        let again = try store.applyRemote([first, held])
        #expect(again.duplicates == 2 && again.applied == 0)
        // The same change decoded from its own bytes is the same change.
        let decoded = try bodyOf(first).withUnsafeBufferPointer { try Change(jsonBytes: $0) }
        #expect(try store.applyRemote([decoded]).duplicates == 1)
        let released = try store.applyRemote([change(alice, 2, id: "r1", deps: [alice: 1], writes: ["killed": 2]), held])
        #expect(released.applied == 2 && released.released == 1 && released.duplicates == 1)
        #expect(try store.incident(id: "r1")?.fields["killed"] == 3)
    }

    /// The old code marked the held row of A:2 for X applied when A:2 came again for Y.
    @Test(arguments: [false, true]) func aHeldRowIsNeverMarkedAppliedWithoutBeingApplied(encrypted: Bool) throws {
        let (store, cleanup) = try freshStore("server", encrypted: encrypted)
        defer { cleanup() }
        let heldX = change(mallory, 2, id: "X", deps: [mallory: 1], writes: ["killed": 2])
        try store.applyRemote([heldX])
        #expect {
            try store.applyRemote([change(mallory, 2, id: "Y", writes: ["title": "Y"])])
        } throws: { ($0 as? StoreError)?.kind == .reusedDot }
        #expect(try store.history(id: "X").map(\.applied) == [false])
        #expect(try store.incident(id: "Y") == nil)
        // A faulty author's held change whose dot gets covered before its deps are met stays held.
        try store.applyRemote([change(mallory, 1, id: "X", writes: ["title": "X"])])
        #expect(try store.history(id: "X").map(\.applied) == [true, true])
        let faulty = change(mallory, 7, id: "X", deps: [ghost: 1], writes: ["injured": 7])
        try store.applyRemote([faulty])
        try store.applyRemote([change(mallory, 9, id: "X", deps: [mallory: 2], writes: ["injured": 9])])
        let report = try store.applyRemote([change(ghost, 1, id: "X", deps: [mallory: 9], writes: ["status": "verified"])])
        #expect(report.released == 0)
        let history = try store.history(id: "X")
        #expect(history.last?.change == faulty && history.last?.applied == false)
        #expect(try store.incident(id: "X")?.fields["injured"] == 9)
        #expect(try heldRows(store) == (1, 0))
    }

    @Test func aSchemaThreeStoreIndexesItsHeldChangesWhenMigrated() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let changes = chain(alice, id: "r1", count: 5)
        do {
            let store = try Store.create(at: dir, reporter: "bob")
            try store.applyRemote([changes[4], changes[2], changes[3]])
            try store.applyRemote([change(mallory, 1, id: "r2", deps: [ghost: 1], writes: ["title": "Waits"])])
        }
        // Turn the store back into schema 3: no waits, no waiting count, no index by author.
        do {
            let db = try Database(path: Store.databasePath(in: dir), create: false)
            try db.execute(backToSchemaThree)
        }
        let migrated = try Store.open(at: dir)
        #expect(try Migrator.currentVersion(migrated.db) == Migrator.latestVersion)
        #expect(try heldRows(migrated) == (4, 4))
        #expect(try migrated.db.prepare("SELECT count(*) FROM meta WHERE key = 'held_back_unindexed'").first { $0.int(0) } == 0)
        let report = try migrated.applyRemote([changes[1], changes[0]])
        #expect(report.applied == 5 && report.released == 4)
        #expect(try migrated.incident(id: "r1")?.fields == ["title": "Chain", "killed": 5])
        #expect(try heldRows(migrated) == (1, 1))
        try migrated.applyRemote([change(ghost, 1, id: "r2", writes: ["killed": 1])])
        #expect(try migrated.incident(id: "r2")?.fields == ["title": "Waits", "killed": 1])
        #expect(try heldRows(migrated) == (0, 0))
    }
}

/// A change's wire bytes, as the store keeps them.
private func bodyOf(_ change: Change) throws -> [UInt8] {
    var out: [UInt8] = []
    change.write(to: &out)
    return out
}
