import Foundation
import OutpostCore
import Testing

@testable import OutpostStore

/// A device store written back from an older copy of itself (`trust.md`, "Restored stores"; "A
/// change claiming this replica"): it finds out, continues under a new replica, and every write of
/// both phases reaches both sides.
@Suite struct RestoredStoreTests {
    /// Two stores that know each other's keys, as a roster would make them. Alice's key comes
    /// from a fixed seed, so the versions her restored copy makes, and which of two versions of
    /// a dot has the lower hash, are the same on every run.
    final class Pair {
        let aliceDir = reusedDotDirectory()
        let bobDir = reusedDotDirectory()
        let backupDir = reusedDotDirectory()
        var alice: Store?
        let bob: Store
        /// Alice's cipher: with one, her store (the one restored) seals its content; Bob's never does.
        let aliceCipher: StoreCipher?

        init(aliceSeed: UInt8, encrypted: Bool = false) throws {
            aliceCipher = TestCipher.cipher(encrypted)
            let key = try DeviceKey(seed: Array(repeating: aliceSeed, count: 32))
            let alice = try Store.create(at: aliceDir, reporter: "alice", replica: key.replicaID, cipher: aliceCipher)
            try alice.write {
                try alice.setMeta(Store.signingKeyMeta, .blob(key.seed))
                try alice.db.prepare("UPDATE roster SET key = ? WHERE replica = ?").bind(
                    .blob(key.publicKey), .blob(key.replicaID.bytes)
                ).run()
            }
            alice.setIdentity(replica: key.replicaID, key: key)
            bob = try Store.create(at: bobDir, reporter: "bob")
            try alice.trust([RosterEntry(replica: bob.replica, key: bob.publicKey, reporter: "bob", status: .active, version: 1)])
            try bob.trust([
                RosterEntry(replica: alice.replica, key: alice.publicKey, reporter: "alice", status: .active, version: 1)
            ])
            self.alice = alice
        }

        deinit {
            for dir in [aliceDir, bobDir, backupDir] { try? FileManager.default.removeItem(atPath: dir) }
        }

        /// The database files of a store folder (the database, its WAL and shared memory).
        static func files(in dir: String) -> [String] { ["", "-wal", "-shm"].map { Store.databasePath(in: dir) + $0 } }

        /// Copies Alice's closed store files, as a backup would.
        func backUp() throws {
            alice = nil
            try FileManager.default.createDirectory(atPath: backupDir, withIntermediateDirectories: true)
            for (from, to) in zip(Self.files(in: aliceDir), Self.files(in: backupDir))
            where FileManager.default.fileExists(atPath: from) {
                try FileManager.default.copyItem(atPath: from, toPath: to)
            }
            alice = try Store.open(at: aliceDir, cipher: aliceCipher)
        }

        /// Writes the backup over Alice's store files in place (the same files, so nothing in
        /// them tells the store), then opens it.
        func restore() throws -> (before: UInt64, after: UInt64) {
            alice = nil
            let inode = { (path: String) -> UInt64 in
                ((try? FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber]) as? NSNumber)?.uint64Value ?? 0
            }
            let before = inode(Store.databasePath(in: aliceDir))
            for (to, from) in zip(Self.files(in: aliceDir), Self.files(in: backupDir)) {
                guard let data = FileManager.default.contents(atPath: from) else {
                    try? FileManager.default.removeItem(atPath: to)
                    continue
                }
                if !FileManager.default.fileExists(atPath: to) { _ = FileManager.default.createFile(atPath: to, contents: nil) }
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: to))
                try handle.truncate(atOffset: 0)
                try handle.write(contentsOf: data)
                try handle.close()
            }
            alice = try Store.open(at: aliceDir, cipher: aliceCipher)
            return (before, inode(Store.databasePath(in: aliceDir)))
        }
    }

    /// How two stores exchange changes in `meet`.
    enum Road {
        /// Each sends the other every change it holds, duplicates included (a replay, or a
        /// client pushing its own changes after an acknowledged counter its backup predates).
        case replay
        /// Each sends what the other's summary lacks.
        case summary
    }

    /// What `from` sends `to`: the changes the road picks, then the evidence of reused dots.
    static func send(from: Store, to: Store, road: Road, forgetting: ReplicaID?) throws -> ApplyReport {
        var summary = road == .replay ? SyncSummary() : try to.summary()
        // After a rotation the old ID's changes go both ways whole: a summary cannot tell two
        // versions of one dot apart.
        if let forgetting { summary.entries[forgetting] = nil }
        let changes = try from.changes(missingFrom: summary, limit: 1_000_000, maxBytes: Int.max).changes.map {
            try $0.change()
        }
        return try to.applyRemote(changes + from.reusedDotEvidence())
    }

    /// Two stores meet, as sync roads must let them: each first looks for restore evidence in
    /// the other's summary, then each sends the other what the road picks, until nothing moves.
    /// `rotatedFrom`: a replica `a` just rotated away from (its changes go whole in the first round).
    static func meet(
        _ a: Store, _ b: Store, road: Road = .replay, bFirst: Bool = false, rotatedFrom: ReplicaID? = nil
    ) throws -> ApplyReport {
        var total = ApplyReport()
        var pending = rotatedFrom
        for _ in 0..<4 {
            let rotated =
                try a.rotateIfRestored(partner: b.summary()) ?? b.rotateIfRestored(partner: a.summary()) ?? pending
            pending = nil
            let order = bFirst ? [(b, a), (a, b)] : [(a, b), (b, a)]
            var moved = false
            for (from, to) in order {
                let report = try send(from: from, to: to, road: road, forgetting: rotated)
                total.add(report)
                moved = moved || report.applied > 0 || !report.reusedDots.isEmpty || report.restoredFrom != nil
            }
            if !moved && rotated == nil { break }
        }
        return total
    }

    /// Every dot a store holds, with the canonical bytes of the change under it.
    static func dots(_ store: Store) throws -> [Dot: [UInt8]] {
        var out: [Dot: [UInt8]] = [:]
        for stored in try store.changes(missingFrom: SyncSummary(), limit: 1_000_000, maxBytes: Int.max).changes {
            let dot = Dot(replica: stored.replica, counter: stored.counter)
            #expect(out[dot] == nil, "dot \(dot) is held twice")
            out[dot] = try stored.change().canonicalBytes()
        }
        return out
    }

    /// Every field value a record holds, visible or in conflict.
    static func values(_ store: Store, id: String) throws -> [String: Set<JSONValue>] {
        let state = try #require(try store.recordState(id: id))
        return state.fields.mapValues { Set($0.map(\.value)) }
    }

    /// The converged-state checks: the same dots with the same bytes on both sides (so no dot
    /// has two versions anywhere), the same visible records and siblings.
    static func expectConverged(_ a: Store, _ b: Store) throws {
        #expect(try dots(a) == dots(b))
        #expect(try a.incidents().map(\.fields) == b.incidents().map(\.fields))
        for incident in try a.incidents() {
            let left = try #require(try a.recordState(id: incident.id))
            let right = try #require(try b.recordState(id: incident.id))
            #expect(left.fields.mapValues { Set($0.map(\.dot)) } == right.fields.mapValues { Set($0.map(\.dot)) })
        }
    }

    /// Backed up, edited twice and synced, written back in place, edited twice again: the same
    /// counters with other content. Met by a road that resends them (either side first), the
    /// versions meet, every write of both phases is kept and no dot has two versions. Over the
    /// seeds, each dot's kept version is sometimes the first phase's, sometimes the second's.
    @Test(arguments: [false, true]) func aRestoredStoreEditedAgainLosesNothing(encrypted: Bool) throws {
        var secondPhaseKept: [Dot: Set<Bool>] = [:]
        for seed: UInt8 in 1...4 {
            for bobFirst in [false, true] {
                for (dot, kept) in try Self.editedAgain(seed: seed, bobFirst: bobFirst, encrypted: encrypted) {
                    secondPhaseKept[Dot(replica: ReplicaID(bytes: []), counter: dot.counter), default: []].insert(kept)
                }
            }
        }
        #expect(secondPhaseKept.count == 2)
        #expect(secondPhaseKept.values.allSatisfy { $0 == [false, true] })
    }

    /// One run of `aRestoredStoreEditedAgainLosesNothing`; per reused dot, whether the second
    /// phase's version was kept.
    static func editedAgain(seed: UInt8, bobFirst: Bool, encrypted: Bool = false) throws -> [Dot: Bool] {
        let pair = try Pair(aliceSeed: seed, encrypted: encrypted)
        var alice = try #require(pair.alice)
        let original = alice.replica
        let ms: Int64 = 1_780_000_000_000
        try alice.create(id: "r1", fields: ["title": .string("Market attack"), "killed": .int(1)], wallMs: ms)
        _ = try Self.meet(alice, pair.bob)
        try pair.backUp()
        alice = try #require(pair.alice)
        // Phase one, after the backup: synced to Bob.
        let first = [
            try alice.update(id: "r1", fields: ["title": .string("Phase one title")], wallMs: ms + 1_000),
            try alice.update(id: "r1", fields: ["killed": .int(5)], wallMs: ms + 2_000),
        ]
        _ = try Self.meet(alice, pair.bob)
        #expect(alice.replica == original)
        // The copy is written back over the store in place: it cannot tell from its files.
        let inodes = try pair.restore()
        #expect(inodes.before == inodes.after && inodes.before != 0)
        alice = try #require(pair.alice)
        #expect(alice.replica == original)
        #expect(try alice.incident(id: "r1")?.fields["title"] == .string("Market attack"))
        // Phase two: the same counters again, with other content.
        let second = [
            try alice.update(id: "r1", fields: ["title": .string("Phase two title")], wallMs: ms + 3_000),
            try alice.update(id: "r1", fields: ["injured": .int(4)], wallMs: ms + 4_000),
        ]
        #expect(second.map(\.dot) == first.map(\.dot))
        #expect(!alice.restoreEvidence(in: try pair.bob.summary()))  // same counter: the summary cannot tell

        let report = try Self.meet(alice, pair.bob, bFirst: bobFirst)
        #expect(report.restoredFrom == original)
        #expect(alice.replica != original)
        #expect(try alice.previousReplicas() == [original])
        // Both dots met in two versions; Alice, their author, re-issued each discarded one.
        let settled = report.reusedDots.filter { $0.reissuedAs != nil }
        #expect(Set(settled.map(\.dot)) == Set(first.map(\.dot)))
        #expect(settled.allSatisfy { $0.reissuedAs?.replica == alice.replica })
        for store in [alice, pair.bob] {
            let values = try Self.values(store, id: "r1")
            #expect(values["title"] == [.string("Phase one title"), .string("Phase two title")])
            #expect(values["killed"] == [.int(5)])
            #expect(values["injured"] == [.int(4)])
        }
        try Self.expectConverged(alice, pair.bob)
        // New work goes under the new replica and reaches Bob.
        let later = try alice.update(id: "r1", fields: ["narrative": .string("After the restore")], wallMs: ms + 5_000)
        #expect(later.dot.replica == alice.replica)
        _ = try Self.meet(alice, pair.bob)
        #expect(try pair.bob.incident(id: "r1")?.fields["narrative"] == .string("After the restore"))
        try Self.expectConverged(alice, pair.bob)
        return try Self.keptVersions(first: first, second: second, in: alice)
    }

    /// Each phase made a new record and edited it twice under the same three dots: whichever
    /// versions are kept, the records and every edit on them arrive at both sides (edits made
    /// over a version that lost to one for another record are re-issued, chains of them too).
    @Test(arguments: [false, true]) func editsOverARecordWhoseDotWasReusedArrive(encrypted: Bool) throws {
        var outcomes = Set<[Bool]>()
        for seed: UInt8 in 1...8 {
            let kept = try Self.newRecordsAgain(seed: seed, encrypted: encrypted)
            outcomes.insert(kept.keys.sorted { $0.counter < $1.counter }.map { kept[$0]! })
        }
        // The seeds cover the chain: the first dot kept from phase one, the next two from phase
        // two (both phase-two edits then wait, the second for the first).
        #expect(outcomes.contains([false, true, true]))
        #expect(outcomes.count >= 4)
    }

    /// One run of `editsOverARecordWhoseDotWasReusedArrive`.
    static func newRecordsAgain(seed: UInt8, encrypted: Bool = false) throws -> [Dot: Bool] {
        let pair = try Pair(aliceSeed: seed, encrypted: encrypted)
        var alice = try #require(pair.alice)
        let ms: Int64 = 1_780_000_000_000
        try alice.create(id: "r1", fields: ["title": .string("Roadblock")], wallMs: ms)
        _ = try Self.meet(alice, pair.bob)
        try pair.backUp()
        alice = try #require(pair.alice)
        let first = [
            try alice.create(id: "r2", fields: ["title": .string("Clinic looted")], wallMs: ms + 1_000),
            try alice.update(id: "r2", fields: ["killed": .int(2)], wallMs: ms + 2_000),
            try alice.update(id: "r2", fields: ["injured": .int(7)], wallMs: ms + 3_000),
        ]
        _ = try Self.meet(alice, pair.bob)
        _ = try pair.restore()
        alice = try #require(pair.alice)
        let second = [
            try alice.create(id: "r3", fields: ["title": .string("Market burned")], wallMs: ms + 4_000),
            try alice.update(id: "r3", fields: ["killed": .int(4)], wallMs: ms + 5_000),
            try alice.update(id: "r3", fields: ["injured": .int(9)], wallMs: ms + 6_000),
        ]
        _ = try Self.meet(alice, pair.bob)
        for store in [alice, pair.bob] {
            #expect(
                try Self.values(store, id: "r2") == [
                    "title": [.string("Clinic looted")], "killed": [.int(2)], "injured": [.int(7)],
                ])
            #expect(
                try Self.values(store, id: "r3") == [
                    "title": [.string("Market burned")], "killed": [.int(4)], "injured": [.int(9)],
                ])
            #expect(try Self.values(store, id: "r1") == ["title": [.string("Roadblock")]])
        }
        try Self.expectConverged(alice, pair.bob)
        return try Self.keptVersions(first: first, second: second, in: alice)
    }

    /// Per dot of `first`, whether the store keeps `second`'s version of it (and one of the two).
    static func keptVersions(first: [Change], second: [Change], in store: Store) throws -> [Dot: Bool] {
        let held = try dots(store)
        var out: [Dot: Bool] = [:]
        for (a, b) in zip(first, second) {
            let kept = try #require(held[a.dot])
            #expect(kept == a.canonicalBytes() || kept == b.canonicalBytes())
            #expect(ReusedDot.precedes(kept, kept == a.canonicalBytes() ? b.canonicalBytes() : a.canonicalBytes()))
            out[a.dot] = kept == b.canonicalBytes()
        }
        return out
    }

    /// The restored copy's counter is below what the partner holds of it: the partner's summary
    /// shows it, and it rotates before it sends anything. The phases made other records under
    /// the same dots (a dot reused for another record); edits on those records still arrive.
    @Test(arguments: [false, true]) func aPartnerSummaryBeyondTheCounterRotatesBeforeSending(encrypted: Bool) throws {
        var secondPhaseKept: [UInt64: Set<Bool>] = [:]
        for seed: UInt8 in 1...4 {
            for (dot, kept) in try Self.rotatedBeforeSending(seed: seed, encrypted: encrypted) {
                secondPhaseKept[dot.counter, default: []].insert(kept)
            }
        }
        #expect(secondPhaseKept.count == 2)
        #expect(secondPhaseKept.values.allSatisfy { $0 == [false, true] })
    }

    /// One run of `aPartnerSummaryBeyondTheCounterRotatesBeforeSending`.
    static func rotatedBeforeSending(seed: UInt8, encrypted: Bool = false) throws -> [Dot: Bool] {
        let pair = try Pair(aliceSeed: seed, encrypted: encrypted)
        var alice = try #require(pair.alice)
        let original = alice.replica
        let ms: Int64 = 1_780_000_000_000
        try alice.create(id: "r1", fields: ["title": .string("Well poisoned"), "killed": .int(0)], wallMs: ms)
        _ = try Self.meet(alice, pair.bob)
        try pair.backUp()
        alice = try #require(pair.alice)
        let first = [
            try alice.update(id: "r1", fields: ["title": .string("Well poisoned, north")], wallMs: ms + 1_000),
            try alice.create(id: "r2", fields: ["title": .string("Checkpoint closed")], wallMs: ms + 2_000),
            try alice.update(id: "r2", fields: ["injured": .int(2)], wallMs: ms + 3_000),
        ]
        _ = try Self.meet(alice, pair.bob)
        // Negative control: the store that made those changes sees no evidence in Bob's summary.
        #expect(!alice.restoreEvidence(in: try pair.bob.summary()))
        #expect(try alice.rotateIfRestored(partner: pair.bob.summary()) == nil)
        #expect(alice.replica == original)

        _ = try pair.restore()
        alice = try #require(pair.alice)
        let second = [
            try alice.update(id: "r1", fields: ["narrative": .string("Seen from the road")], wallMs: ms + 4_000),
            try alice.create(id: "r3", fields: ["title": .string("Bridge down")], wallMs: ms + 5_000),
        ]
        // Bob holds Alice's changes up to 4; the restored copy's counter is 3.
        #expect(alice.restoreEvidence(in: try pair.bob.summary()))
        #expect(try alice.rotateIfRestored(partner: pair.bob.summary()) == original)
        #expect(alice.replica != original)
        #expect(try alice.integerSetting("counter") == 0)
        #expect(!alice.restoreEvidence(in: try pair.bob.summary()))
        // An edit over the record the reused dot made: it must arrive whichever version is kept.
        let next = try alice.update(id: "r3", fields: ["killed": .int(1)], wallMs: ms + 6_000)
        #expect(next.dot == Dot(replica: alice.replica, counter: 1))
        // And an edit over that one (a chain: it waits for the first until that is re-issued).
        try alice.update(id: "r3", fields: ["injured": .int(3)], wallMs: ms + 7_000)

        let report = try Self.meet(alice, pair.bob, road: .summary, rotatedFrom: original)
        #expect(report.restoredFrom == nil)  // already rotated: the old dots are settled, not rotated again
        #expect(try alice.previousReplicas() == [original])
        for store in [alice, pair.bob] {
            let r1 = try Self.values(store, id: "r1")
            #expect(r1["title"]?.contains(.string("Well poisoned, north")) == true)
            #expect(r1["narrative"] == [.string("Seen from the road")])
            #expect(try Self.values(store, id: "r2")["injured"] == [.int(2)])
            #expect(try Self.values(store, id: "r2")["title"] == [.string("Checkpoint closed")])
            #expect(try Self.values(store, id: "r3")["title"] == [.string("Bridge down")])
            #expect(try Self.values(store, id: "r3")["killed"] == [.int(1)])
            #expect(try Self.values(store, id: "r3")["injured"] == [.int(3)])
        }
        try Self.expectConverged(alice, pair.bob)
        return try Self.keptVersions(first: Array(first.prefix(2)), second: second, in: alice)
    }

    @Test func aForgedOwnChangeNeverRotates() throws {
        let dir = reusedDotDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir, reporter: "alice")
        let own = store.replica
        let first = try store.create(id: "r1", fields: ["title": .string("Mine")])
        let forger = DeviceKey()
        func forged(counter: UInt64, title: String) -> Change {
            forger.signed(
                Change(
                    dot: Dot(replica: own, counter: counter), record: RecordKey(id: "r1"), deps: first.deps,
                    tag: HLCTag(ms: first.tag.ms + 1, seq: 0), writes: ["title": .string(title)], reporter: "alice"))
        }
        // Beyond the counter, and under a dot the store holds: both refused, neither taken as evidence.
        for change in [forged(counter: 9, title: "Forged later"), forged(counter: 1, title: "Forged twin")] {
            let report = try store.applyRemote([change])
            #expect(report.refused.map(\.reason) == [.forgedOwnChange])
            #expect(report.restoredFrom == nil && report.reusedDots.isEmpty)
            #expect(store.replica == own)
            #expect(try store.previousReplicas().isEmpty)
        }
        var unsigned = forged(counter: 9, title: "Unsigned")
        unsigned.sig = nil
        #expect(try store.applyRemote([unsigned]).refused.map(\.reason) == [.unsigned])
        #expect(store.replica == own)
        #expect(try store.incident(id: "r1")?.fields["title"] == .string("Mine"))
        #expect(try store.history(id: "r1").count == 1)
        // Positive control: the same change signed by the store's own key is restore evidence.
        let genuine = store.key.signed(forged(counter: 9, title: "Genuine later"))
        let report = try store.applyRemote([genuine])
        #expect(report.restoredFrom == own && store.replica != own)
    }
}
