import Crypto
import Foundation
import OutpostCore
import Testing

@testable import OutpostStore

/// Two validly signed versions of one dot (`trust.md`, "Restored stores"): every replica keeps
/// the version whose canonical bytes have the lower SHA-256, never both, and reports the other.
@Suite struct ReusedDotTests {
    /// A fixed author key, so every run meets the same two versions.
    static let author = try! DeviceKey(seed: Array(repeating: 7, count: 32))

    static func version(_ title: String, id: String = "r1", counter: UInt64 = 1, key: DeviceKey = author) -> Change {
        key.signed(
            Change(
                dot: Dot(replica: key.replicaID, counter: counter), record: RecordKey(id: id), deps: VersionVector(),
                tag: HLCTag(ms: 1_780_000_000_000, seq: 0), writes: ["title": .string(title), "killed": .int(1)],
                reporter: "carol"))
    }

    static func sha256(_ change: Change) -> [UInt8] { Array(SHA256.hash(data: change.canonicalBytes())) }

    /// The two versions, the one with the lower SHA-256 of its canonical bytes first (computed here).
    static func versionsByHash(ids: (String, String) = ("r1", "r1")) -> (lower: Change, higher: Change) {
        let a = version("Market attack", id: ids.0)
        let b = version("Attack on the market", id: ids.1)
        return sha256(a).lexicographicallyPrecedes(sha256(b)) ? (a, b) : (b, a)
    }

    /// A store that knows `author` (and the test's other keys) through its roster; with
    /// `encrypted`, one that seals its content (the same behaviour is expected either way).
    static func knowingStore(_ keys: [DeviceKey] = [author], encrypted: Bool = false) throws -> (Store, String) {
        let dir = reusedDotDirectory()
        let store = try Store.create(at: dir, reporter: "reader", cipher: TestCipher.cipher(encrypted))
        try store.trust(
            keys.map { RosterEntry(replica: $0.replicaID, key: $0.publicKey, reporter: "carol", status: .active, version: 1) })
        return (store, dir)
    }

    /// Every change a store holds under `dot`, as stored (at most one if no dot has two versions).
    static func stored(_ store: Store, at dot: Dot) throws -> [Change] {
        try store.changes(missingFrom: SyncSummary(), limit: 100_000, maxBytes: Int.max).changes.filter {
            $0.replica == dot.replica && $0.counter == dot.counter
        }.map { try $0.change() }
    }

    @Test(arguments: [false, true]) func bothOrdersKeepTheLowerHash(encrypted: Bool) throws {
        let (lower, higher) = Self.versionsByHash()
        #expect(lower.dot == higher.dot)
        #expect(lower.canonicalBytes() != higher.canonicalBytes())
        for order in [[lower, higher], [higher, lower]] {
            let (store, dir) = try Self.knowingStore(encrypted: encrypted)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let first = try store.applyRemote([order[0]])
            #expect(first.applied == 1)
            let second = try store.applyRemote([order[1]])
            #expect(second.refused.isEmpty)
            #expect(second.reusedDots.count == 1)
            let reused = try #require(second.reusedDots.first)
            #expect(reused.kept == lower && reused.discarded == higher && reused.reissuedAs == nil)
            // Exactly one version under the dot, the lower hash's, and the record shows it alone.
            #expect(try Self.stored(store, at: lower.dot) == [lower])
            let incident = try #require(try store.incident(id: "r1"))
            #expect(incident.fields["title"] == lower.writes["title"])
            #expect(try store.conflicts().isEmpty)
            #expect(try store.history(id: "r1").count == 1)
            // Not the author: it does not rotate.
            #expect(second.restoredFrom == nil)
            #expect(try store.previousReplicas().isEmpty)
            // The discarded version arriving again changes nothing.
            let again = try store.applyRemote([higher, lower])
            #expect(again.applied == 0 && again.reusedDots.isEmpty)  // settled before: not reported again
            #expect(try Self.stored(store, at: lower.dot) == [lower])
        }
    }

    @Test(arguments: [false, true]) func bothVersionsInOneBatchKeepTheLowerHash(encrypted: Bool) throws {
        let (lower, higher) = Self.versionsByHash()
        for batch in [[lower, higher], [higher, lower], [higher, higher, lower, higher]] {
            let (store, dir) = try Self.knowingStore(encrypted: encrypted)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let report = try store.applyRemote(batch)
            #expect(report.reusedDots.allSatisfy { $0.kept == lower && $0.discarded == higher })
            #expect(try Self.stored(store, at: lower.dot) == [lower])
            #expect(try store.incident(id: "r1")?.fields["title"] == lower.writes["title"])
        }
    }

    /// Positive control: the choice follows SHA-256, not arrival, byte order of the bodies or the
    /// title. Over many pairs the lower hash is sometimes the first version, sometimes the second.
    @Test(arguments: [false, true]) func theChoiceIsBySHA256(encrypted: Bool) throws {
        var keptFirst = 0
        var keptSecond = 0
        for i in 0..<12 {
            let a = Self.version("Title \(i)")
            let b = Self.version("Other title \(i)")
            let expected = Self.sha256(a).lexicographicallyPrecedes(Self.sha256(b)) ? a : b
            #expect(ReusedDot.precedes(expected.canonicalBytes(), (expected == a ? b : a).canonicalBytes()))
            let (store, dir) = try Self.knowingStore(encrypted: encrypted)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            _ = try store.applyRemote([a])
            let report = try store.applyRemote([b])
            #expect(report.reusedDots.first?.kept == expected)
            #expect(try store.incident(id: "r1")?.fields["title"] == expected.writes["title"])
            if expected == a { keptFirst += 1 } else { keptSecond += 1 }
        }
        #expect(keptFirst > 0 && keptSecond > 0)
    }

    @Test(arguments: [false, true]) func aDotReusedForAnotherRecordFollowsTheSameRule(encrypted: Bool) throws {
        let (lower, higher) = Self.versionsByHash(ids: ("r1", "r2"))
        #expect(lower.record != higher.record)
        for order in [[lower, higher], [higher, lower]] {
            let (store, dir) = try Self.knowingStore(encrypted: encrypted)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            _ = try store.applyRemote([order[0]])
            let report = try store.applyRemote([order[1]])
            #expect(report.reusedDots.first?.kept == lower)
            #expect(try Self.stored(store, at: lower.dot) == [lower])
            #expect(try store.incident(id: lower.record.id)?.fields["title"] == lower.writes["title"])
            // The discarded version's record held only it: it is gone, not half-built.
            #expect(try store.incident(id: higher.record.id) == nil)
            #expect(try store.incidents().count == 1)
        }
    }

    @Test(arguments: [false, true]) func changesThatDependOnAReplacedVersionWaitForTheWinner(encrypted: Bool) throws {
        let (lower, higher) = Self.versionsByHash()
        // A later change of the same author on r1, made after (1): it follows whichever version is kept.
        var deps = VersionVector()
        deps[Self.author.replicaID] = 1
        let next = Self.author.signed(
            Change(
                dot: Dot(replica: Self.author.replicaID, counter: 2), record: RecordKey(id: "r1"), deps: deps,
                tag: HLCTag(ms: 1_780_000_000_100, seq: 0), writes: ["injured": .int(4)], reporter: "carol"))
        let (store, dir) = try Self.knowingStore(encrypted: encrypted)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try store.applyRemote([higher, next])
        let report = try store.applyRemote([lower])
        #expect(report.reusedDots.first?.kept == lower)
        let incident = try #require(try store.incident(id: "r1"))
        #expect(incident.fields["title"] == lower.writes["title"])
        #expect(incident.fields["injured"] == .int(4))
        #expect(try store.contiguousCounter(of: Self.author.replicaID) == 2)
        #expect(try store.status().heldBackChanges == 0)
    }

    /// A store that holds the discarded version settles the dot from another store's evidence,
    /// which a summary alone cannot show (both hold the dot).
    @Test(arguments: [false, true]) func evidenceSettlesAStoreHoldingTheDiscardedVersion(encrypted: Bool) throws {
        let (lower, higher) = Self.versionsByHash()
        let (settled, settledDir) = try Self.knowingStore(encrypted: encrypted)
        let (stale, staleDir) = try Self.knowingStore(encrypted: encrypted)
        defer { for dir in [settledDir, staleDir] { try? FileManager.default.removeItem(atPath: dir) } }
        _ = try settled.applyRemote([higher, lower])
        _ = try stale.applyRemote([higher])
        #expect(try settled.reusedDotEvidence() == [lower, higher])
        #expect(try stale.reusedDotEvidence().isEmpty)
        #expect(try settled.changes(missingFrom: stale.summary()).changes.isEmpty)
        let report = try stale.applyRemote(try settled.reusedDotEvidence())
        #expect(report.reusedDots.map(\.kept) == [lower])
        #expect(try Self.stored(stale, at: lower.dot) == [lower])
        #expect(try stale.reusedDotEvidence() == [lower, higher])
    }

    /// An author signing many versions of one dot cannot fill a store: a few discarded versions
    /// per dot are kept as evidence, every one is still settled by the same rule.
    @Test(arguments: [false, true]) func discardedVersionsKeptAsEvidenceAreBounded(encrypted: Bool) throws {
        let versions = (0..<12).map { Self.version("Version \($0)") }
        let lowest = versions.min { Self.sha256($0).lexicographicallyPrecedes(Self.sha256($1)) }!
        let (store, dir) = try Self.knowingStore(encrypted: encrypted)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for version in versions { _ = try store.applyRemote([version]) }
        #expect(try Self.stored(store, at: lowest.dot) == [lowest])
        let evidence = try store.reusedDotEvidence()
        #expect(evidence.count == 2 * Store.discardedVersionsPerDot)
        #expect(evidence.allSatisfy { versions.contains($0) })
        #expect(Set(evidence).count == Store.discardedVersionsPerDot + 1)
    }

    /// A revoked author's second version of a dot never replaces the held one, even with the
    /// lower hash (a stolen key cannot rewrite its owner's past once revoked); an active author's
    /// does (the positive control).
    @Test(arguments: [false, true]) func aRevokedAuthorCannotReplaceAHeldVersion(encrypted: Bool) throws {
        let (lower, higher) = Self.versionsByHash()
        for status in [RosterEntry.Status.revoked, .active] {
            let (store, dir) = try Self.knowingStore(encrypted: encrypted)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            _ = try store.applyRemote([higher])
            try store.trust([
                RosterEntry(
                    replica: Self.author.replicaID, key: Self.author.publicKey, reporter: "carol", status: status, version: 2)
            ])
            let report = try store.applyRemote([lower])
            let kept = status == .revoked ? higher : lower
            #expect(report.reusedDots.map(\.kept) == [kept])
            #expect(try Self.stored(store, at: lower.dot) == [kept])
        }
    }

    /// Versions that do not both verify keep the old refusal of the whole batch.
    @Test(arguments: [false, true]) func unverifiableVersionsAreStillRefused(encrypted: Bool) throws {
        let (lower, higher) = Self.versionsByHash()
        // The author is not in this store's roster: both versions are unverifiable.
        let dir = reusedDotDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir, reporter: "reader", cipher: TestCipher.cipher(encrypted))
        #expect(try store.applyRemote([higher]).unverified == 1)
        let other = Self.version("Something else", id: "r9", counter: 5)
        #expect(throws: StoreError.self) { try store.applyRemote([other, lower]) }
        do {
            _ = try store.applyRemote([lower])
            Issue.record("an unverifiable second version was taken")
        } catch { #expect(error.kind == .reusedDot) }
        #expect(try Self.stored(store, at: lower.dot) == [higher])
        #expect(try store.incident(id: "r9") == nil)  // nothing of the refused batch was stored

        // A known author, but the second version's signature is broken: refused for its signature.
        let (known, knownDir) = try Self.knowingStore(encrypted: encrypted)
        defer { try? FileManager.default.removeItem(atPath: knownDir) }
        _ = try known.applyRemote([higher])
        var tampered = lower
        tampered.sig![10] ^= 1
        let report = try known.applyRemote([tampered])
        #expect(report.refused.map(\.reason) == [.badSignature])
        #expect(report.reusedDots.isEmpty)
        #expect(try Self.stored(known, at: lower.dot) == [higher])
    }

    /// The author holding two versions of its own dot rotates and re-issues the discarded one.
    @Test(arguments: [false, true]) func theAuthorReissuesTheDiscardedVersionUnderANewReplica(encrypted: Bool) throws {
        let dir = reusedDotDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir, reporter: "alice", cipher: TestCipher.cipher(encrypted))
        let old = store.replica
        let mine = try store.create(id: "r1", fields: ["title": .string("Mine"), "killed": .int(2)], wallMs: 1_780_000_000_000)
        // The same dot in another version, signed by this store's key (as its restored copy would have).
        let twin = store.key.signed(
            Change(
                dot: mine.dot, record: mine.record, deps: mine.deps, tag: HLCTag(ms: 1_780_000_000_500, seq: 3),
                writes: ["title": .string("Theirs"), "injured": .int(1)], reporter: "alice"))
        let lowerIsMine = ReusedDot.precedes(mine.canonicalBytes(), twin.canonicalBytes())
        let (kept, discarded) = lowerIsMine ? (mine, twin) : (twin, mine)
        let report = try store.applyRemote([twin])
        #expect(report.restoredFrom == old)
        #expect(store.replica != old)
        #expect(try store.previousReplicas() == [old])
        let reused = try #require(report.reusedDots.first)
        #expect(reused.kept == kept && reused.discarded == discarded)
        let reissued = try #require(reused.reissuedAs)
        #expect(reissued == Dot(replica: store.replica, counter: 1))
        let change = try #require(try Self.stored(store, at: reissued).first)
        #expect(change.writes == discarded.writes && change.tag == discarded.tag && change.record == discarded.record)
        #expect(change.deps == discarded.deps)
        #expect(SignatureCheck.isValid(change, publicKey: store.publicKey))
        #expect(try Self.stored(store, at: mine.dot) == [kept])
        // Both titles stay, as a conflict; every other write too.
        let state = try #require(try store.recordState(id: "r1"))
        #expect(Set(state.fields["title"]?.map(\.value) ?? []) == [.string("Mine"), .string("Theirs")])
        let incident = try #require(try store.incident(id: "r1"))
        #expect(incident.fields["killed"] == .int(2) && incident.fields["injured"] == .int(1))
        // The discarded version arriving again is not re-issued twice.
        let again = try store.applyRemote([discarded])
        #expect(again.reusedDots.isEmpty && again.restoredFrom == nil)
        #expect(try store.integerSetting("counter") == 1)
        // New work goes on under the new replica, after the re-issue.
        let next = try store.update(id: "r1", fields: ["title": .string("Settled")])
        #expect(next.dot == Dot(replica: store.replica, counter: 2))
    }
}

extension ReusedDotTests {
    /// Two re-issues on one record: the later covers the earlier, as every local edit covers the
    /// author's earlier ones, so a store that receives them in reverse order keeps both.
    @Test(arguments: [false, true]) func reissuesOnOneRecordArriveInAnyOrder(encrypted: Bool) throws {
        let dir = reusedDotDirectory()
        let otherDir = reusedDotDirectory()
        defer { for d in [dir, otherDir] { try? FileManager.default.removeItem(atPath: d) } }
        let store = try Store.create(at: dir, reporter: "alice", cipher: TestCipher.cipher(encrypted))
        let old = store.replica
        let oldKey = store.publicKey
        let ms: Int64 = 1_780_000_000_000
        let one = try store.create(id: "r1", fields: ["title": .string("One")], wallMs: ms)
        let two = try store.update(id: "r1", fields: ["killed": .int(2)], wallMs: ms + 1_000)
        // Other versions of both dots, as a restored copy of this store would have signed them.
        let twins = [
            store.key.signed(
                Change(
                    dot: one.dot, record: one.record, deps: one.deps, tag: HLCTag(ms: ms + 500, seq: 0),
                    writes: ["title": .string("Uno")], reporter: "alice")),
            store.key.signed(
                Change(
                    dot: two.dot, record: two.record, deps: two.deps, tag: HLCTag(ms: ms + 1_500, seq: 0),
                    writes: ["injured": .int(5)], reporter: "alice")),
        ]
        let report = try store.applyRemote(twins)
        #expect(report.restoredFrom == old)
        let reissued = report.reusedDots.compactMap(\.reissuedAs).sorted { $0.counter < $1.counter }
        #expect(reissued == [Dot(replica: store.replica, counter: 1), Dot(replica: store.replica, counter: 2)])
        let all = try store.changes(missingFrom: SyncSummary(), limit: 100_000, maxBytes: Int.max).changes.map {
            try $0.change()
        }
        let second = try #require(all.first { $0.dot == reissued[1] })
        #expect(second.deps[store.replica] == 1)

        // Another store gets the old ID's changes, then the re-issues newest first.
        let other = try Store.create(at: otherDir, reporter: "bob", cipher: TestCipher.cipher(encrypted))
        try other.trust([RosterEntry(replica: old, key: oldKey, reporter: "alice", status: .active, version: 1)])
        let oldOnes = all.filter { $0.dot.replica == old }
        let newOnes = all.filter { $0.dot.replica == store.replica }.sorted { $0.dot.counter > $1.dot.counter }
        _ = try other.applyRemote(oldOnes)
        for change in newOnes { _ = try other.applyRemote([change]) }
        let mine = try #require(try store.recordState(id: "r1"))
        let theirs = try #require(try other.recordState(id: "r1"))
        #expect(mine.fields.mapValues { Set($0.map(\.value)) } == theirs.fields.mapValues { Set($0.map(\.value)) })
        #expect(Set(mine.fields["title"]?.map(\.value) ?? []) == [.string("One"), .string("Uno")])
        #expect(mine.fields["killed"]?.map(\.value) == [.int(2)])
        #expect(mine.fields["injured"]?.map(\.value) == [.int(5)])
        #expect(try other.status().heldBackChanges == 0)
    }
}

/// A fresh store folder under the temporary directory, removed by the caller.
func reusedDotDirectory() -> String {
    (NSTemporaryDirectory() as NSString).appendingPathComponent("outpost-reused-\(UUID().uuidString)")
}
