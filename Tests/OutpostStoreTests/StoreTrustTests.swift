import Foundation
import OutpostCore
import Testing

@testable import OutpostStore

/// The store's side of `trust.md`: keys, signed local edits, verification of received changes.
@Suite struct StoreTrustTests {
    private func withStores(_ count: Int, _ body: ([Store]) throws -> Void) throws {
        let dirs = (0..<count).map { _ in temporaryStoreDirectory() }
        defer { for d in dirs { try? FileManager.default.removeItem(atPath: d) } }
        try body(try dirs.enumerated().map { try Store.create(at: $1, reporter: "reporter \($0)") })
    }

    private func verifiedColumn(_ store: Store, _ dot: Dot) throws -> Int64?? {
        try store.db.prepare(
            "SELECT c.verified FROM changes c JOIN replicas r ON r.idx = c.replica WHERE r.id = ? AND c.counter = ?"
        ).bind(.blob(dot.replica.bytes), .integer(Int64(dot.counter))).first { $0.isNull(0) ? nil : $0.int(0) }
    }

    @Test func aNewStoresReplicaIsTheHashOfItsKeyAndItsEditsAreSigned() throws {
        try withStores(1) { stores in
            let store = stores[0]
            #expect(store.replica == ReplicaID.derived(fromPublicKey: store.publicKey))
            #expect(store.replica.bytes.count == 16)
            let change = try store.create(id: "r1", fields: ["title": "Signed"])
            #expect(SignatureCheck.isValid(change, publicKey: store.publicKey))
            // The stored body carries the signature too.
            let stored = try store.changes(afterSeq: 0).changes[0].change()
            #expect(stored.sig == change.sig)
            // The key survives reopening.
            let reopened = try Store.open(at: store.directory)
            #expect(reopened.publicKey == store.publicKey && reopened.replica == store.replica)
        }
    }

    @Test func anUnknownAuthorIsKeptUnverifiedUntilTheRosterNamesIt() throws {
        try withStores(3) { stores in
            let (bob, alice, carol) = (stores[0], stores[1], stores[2])
            let change = try bob.create(id: "r1", fields: ["title": "From Bob"])
            let report = try alice.applyRemote([change])
            #expect(report.applied == 1 && report.unverified == 1)
            #expect(try verifiedColumn(alice, change.dot) == .some(nil))
            let entry = RosterEntry(replica: bob.replica, key: bob.publicKey, reporter: "bob", status: .active, version: 1)
            let update = try alice.trust([entry])
            #expect(update.verified == 1 && update.dropped.isEmpty)
            #expect(try verifiedColumn(alice, change.dot) == .some(1))
            // Positive control: a store that knows Bob verifies on arrival.
            try carol.trust([entry])
            #expect(try carol.applyRemote([change]).unverified == 0)
            #expect(try verifiedColumn(carol, change.dot) == .some(1))
        }
    }

    @Test func aTamperedChangeOfAKnownAuthorIsRefusedAndTheRestKept() throws {
        try withStores(2) { stores in
            let (bob, alice) = (stores[0], stores[1])
            try alice.trust([RosterEntry(replica: bob.replica, key: bob.publicKey, reporter: "bob", status: .active, version: 1)])
            let good = try bob.create(id: "r1", fields: ["title": "Good"])
            var bad = try bob.create(id: "r2", fields: ["title": "Original"])
            bad.writes["title"] = "Altered"
            let report = try alice.applyRemote([good, bad])
            #expect(report.applied == 1)
            #expect(report.refused.map(\.dot) == [bad.dot] && report.refused.first?.reason == .badSignature)
            #expect(report.refused.first?.description.contains(bad.dot.description) == true)
            #expect(try alice.incident(id: "r2") == nil)
            #expect(try alice.incident(id: "r1") != nil)
            // The server's policy refuses the whole batch and stores nothing.
            #expect {
                try alice.applyRemote([try bob.create(id: "r3", fields: ["title": "Third"]), bad], trust: .server)
            } throws: { ($0 as? StoreError)?.kind == .refusedChange && "\($0)".contains(bad.dot.description) }
            #expect(try alice.incident(id: "r3") == nil)
        }
    }

    @Test func anUnverifiedChangeThatFailsOnceItsAuthorIsKnownIsDroppedAndItsRecordRebuilt() throws {
        try withStores(2) { stores in
            let (bob, alice) = (stores[0], stores[1])
            let create = try bob.create(id: "r1", fields: ["title": "Bob's title", "killed": 1])
            var forged = try bob.update(id: "r1", fields: ["killed": 2])
            forged.writes["killed"] = 40
            try alice.applyRemote([create, forged])
            #expect(try alice.incident(id: "r1")?.fields["killed"] == 40)  // not known yet: shown, unverified
            let update = try alice.trust([
                RosterEntry(replica: bob.replica, key: bob.publicKey, reporter: "bob", status: .active, version: 1)
            ])
            #expect(update.verified == 1 && update.dropped.map(\.dot) == [forged.dot])
            #expect(try alice.incident(id: "r1")?.fields == ["title": "Bob's title", "killed": 1])
            #expect(try alice.summary().entries[bob.replica]?.contiguous == 1)
        }
    }

    @Test func aForgedOwnChangeIsRefusedAndLaterOwnWorkIsUnaffected() throws {
        try withStores(2) { stores in
            let (alice, mallory) = (stores[0], stores[1])
            try alice.create(id: "a1", fields: ["title": "Mine"])
            let forged = mallory.key.signed(
                Change(
                    dot: Dot(replica: alice.replica, counter: 2), record: RecordKey(id: "a2"), deps: VersionVector(),
                    tag: HLCTag(ms: 1, seq: 0), writes: ["title": "Forged"]))
            let report = try alice.applyRemote([forged])
            #expect(report.refused.first?.reason == .forgedOwnChange && report.restoredFrom == nil)
            #expect(try alice.incident(id: "a2") == nil)
            let next = try alice.create(id: "a3", fields: ["title": "Still mine"])
            #expect(next.dot == Dot(replica: alice.replica, counter: 2))
            #expect(try alice.ownChanges(afterCounter: 0).count == 2)
        }
    }

    @Test func aValidOwnChangeFromBeyondTheCounterShowsARestoreAndTheStoreMovesToANewReplica() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = Store.databasePath(in: dir)
        let (replica, first, lost, copy): (ReplicaID, Change, Change, Data)
        do {
            let alice = try Store.create(at: dir, reporter: "alice")
            replica = alice.replica
            first = try alice.create(id: "a1", fields: ["title": "Before"])
            try alice.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            copy = try Data(contentsOf: URL(fileURLWithPath: path))
            lost = try alice.create(id: "a2", fields: ["title": "After the backup"])
        }
        // The copy is written back over the store in place (same file), so only the change from
        // beyond its counter can tell the store it was restored.
        for suffix in ["-wal", "-shm"] { unlink(path + suffix) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: copy)
        try handle.close()
        let restored = try Store.open(at: dir)
        #expect(restored.replica == replica)
        #expect(try restored.incident(id: "a2") == nil)
        let report = try restored.applyRemote([lost])
        #expect(report.restoredFrom == replica)
        #expect(restored.replica != replica)
        #expect(try restored.previousReplicas() == [replica])
        // Its own change that never left it (a1) is re-issued under the new replica first.
        #expect(try restored.history(id: "a1").map(\.change.dot) == [Dot(replica: restored.replica, counter: 1)])
        let next = try restored.create(id: "a3", fields: ["title": "New ID"])
        #expect(next.dot == Dot(replica: restored.replica, counter: 2))
        #expect(try restored.incident(id: "a2") != nil && restored.incident(id: first.record.id) != nil)
    }

    @Test func aStoreMadeBeforeSignaturesGetsAKeyAndANewReplicaAndKeepsItsWork() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let oldReplica: ReplicaID
        do {
            let store = try Store.create(at: dir, reporter: "alice", replica: .random())
            oldReplica = store.replica
            try store.create(id: "r1", fields: ["title": "Legacy"])
            try store.db.execute(
                "DELETE FROM meta WHERE key = 'signing_key'; DELETE FROM roster; UPDATE changes SET verified = 0")
        }
        let upgraded = try Store.open(at: dir)
        #expect(upgraded.replica != oldReplica)
        #expect(upgraded.replica == ReplicaID.derived(fromPublicKey: upgraded.publicKey))
        #expect(try upgraded.previousReplicas() == [oldReplica])
        #expect(try upgraded.incident(id: "r1")?.fields["title"] == "Legacy")
        let next = try upgraded.update(id: "r1", fields: ["killed": 1])
        #expect(next.dot == Dot(replica: upgraded.replica, counter: 1))
        #expect(next.deps[oldReplica] == 1)
    }

    @Test func rosterEntriesCountOnlyWithTheServersSignatureAndNeverGoBack() throws {
        try withStores(2) { stores in
            let (device, bob) = (stores[0], stores[1])
            let serverKey = DeviceKey()
            let active = RosterEntry(replica: bob.replica, key: bob.publicKey, reporter: "bob", status: .active, version: 1)
            // A peer's own key cannot pass for the server's.
            let byPeer = active.signed(by: DeviceKey())
            #expect(try device.acceptRoster([byPeer], rosterKey: nil).accepted == 0)  // nothing pinned yet
            try device.pinRosterKey(serverKey.publicKey)
            #expect(try device.acceptRoster([byPeer]).accepted == 0)
            #expect(try device.acceptRoster([active.signed(by: serverKey)]).accepted == 1)  // positive control
            var revoked = active
            revoked.status = .revoked
            revoked.version = 2
            #expect(try device.acceptRoster([revoked.signed(by: serverKey)]).accepted == 1)
            // An older "active" entry cannot undo the revocation.
            #expect(try device.acceptRoster([active.signed(by: serverKey)]).accepted == 0)
            #expect(try device.roster().first { $0.replica == bob.replica }?.status == .revoked)
            // A different roster key is refused.
            #expect { try device.pinRosterKey(DeviceKey().publicKey) } throws: { ($0 as? StoreError)?.kind == .invalidState }
            // An entry whose replica is not the hash of its key is ignored.
            var squatted = active
            squatted.replica = ReplicaID.random()
            squatted.version = 5
            #expect(try device.acceptRoster([squatted.signed(by: serverKey)]).accepted == 0)
        }
    }
}
