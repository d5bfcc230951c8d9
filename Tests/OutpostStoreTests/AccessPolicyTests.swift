import Foundation
import OutpostCore
import Testing

@testable import OutpostStore

/// Who may read which record on a device (issue 14, `TEAMS-PLAN.md`): the team of the record's
/// creator from the signed roster (or the server's row after a move), restricted records to their
/// author only, unknown creators to no peer; the receiver guard; notices; forgetting a record.
@Suite struct AccessPolicyTests {
    /// Devices enrolled by one server roster key, each with its signed roster entry.
    struct Network {
        let rosterKey = DeviceKey()
        let root: String
        var stores: [String: Store] = [:]
        var entries: [RosterEntry] = []

        init(_ members: [(name: String, team: String)], encrypted: Bool = false) throws {
            root = NSTemporaryDirectory() + "access-\(UUID().uuidString)"
            for member in members {
                let store = try Store.create(
                    at: root + "/" + member.name, reporter: member.name, cipher: TestCipher.cipher(encrypted))
                stores[member.name] = store
                entries.append(
                    RosterEntry(
                        replica: store.replica, key: store.publicKey, reporter: member.name, team: member.team, status: .active,
                        version: 1
                    ).signed(by: rosterKey))
            }
            for store in stores.values { try store.acceptRoster(entries, rosterKey: rosterKey.publicKey) }
        }

        subscript(name: String) -> Store { stores[name]! }

        func directory(_ name: String) -> String { root + "/" + name }

        /// Every change of `from` that `to` lacks, as a peer would hand them over.
        func changes(of from: Store, missingAt to: Store) throws -> [Change] {
            try from.changes(missingFrom: try to.summary(), limit: Int.max, maxBytes: Int.max).changes.map { try $0.change() }
        }
    }

    @Test func aRecordIsReadByItsTeamAndARestrictedOneByItsAuthorOnly() throws {
        let net = try Network([("bob", "Kidal"), ("bea", "Kidal"), ("alice", "Gao")])
        let bob = net["bob"]
        let open = try bob.create(fields: ["title": "market fire"]).record
        let restricted = try bob.create(fields: ["title": "witness", "sensitivity": "restricted"]).record
        let bea = try #require(try bob.reader(of: net["bea"].replica))
        let alice = try #require(try bob.reader(of: net["alice"].replica))
        #expect(bea.team == "Kidal" && alice.team == "Gao" && bea.reporter == "bea")
        #expect(try bob.teamsInForce)
        // Own team, unrestricted: read; the other team: not; no reader: not.
        #expect(try bob.mayRead(open, reader: bea))
        #expect(try !bob.mayRead(open, reader: alice))
        #expect(try !bob.mayRead(open, reader: nil))
        // Restricted: its author (this device) reads it, a teammate does not, nor an unnamed one.
        #expect(try bob.mayRead(restricted, reader: try bob.ownReader()))
        #expect(try !bob.mayRead(restricted, reader: bea))
        #expect(try !bob.mayRead(restricted, reader: .teammate(in: "Kidal")))
        #expect(try bob.mayRead(open, reader: .teammate(in: "Kidal")))
        // Clearing the restriction opens it to the team.
        _ = try bob.update(id: restricted.id, fields: ["sensitivity": "normal"])
        #expect(try bob.mayRead(restricted, reader: bea))
    }

    @Test func aStoreWithoutARosterKeyGivesEverythingAsBefore() throws {
        let dir = NSTemporaryDirectory() + "access-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir, reporter: "solo")
        let record = try store.create(fields: ["title": "t", "sensitivity": "restricted"]).record
        #expect(try !store.teamsInForce)
        #expect(try store.mayRead(record, reader: nil))
    }

    @Test func aRecordOfAnUnknownCreatorIsReadByNoPeerButTakenByTheDevice() throws {
        let net = try Network([("bob", "Kidal"), ("bea", "Kidal")])
        defer { try? FileManager.default.removeItem(atPath: net.root) }
        // A replica the roster does not name writes a record; bob keeps it as unverified.
        let stranger = ReplicaID(bytes: Array(repeating: 7, count: 16))
        let change = TestKeys.signed(
            Change(
                dot: Dot(replica: stranger, counter: 1), record: RecordKey(id: "unknown-creator"), deps: VersionVector(),
                tag: HLCTag(ms: 1_700_000_000_000, seq: 0), writes: ["title": "who?"]))
        let report = try net["bob"].applyRemote([change])
        #expect(report.withheld == 0 && report.unverified == 1)
        #expect(try net["bob"].incident(id: "unknown-creator") != nil)
        let bea = try net["bob"].reader(of: net["bea"].replica)
        #expect(try !net["bob"].mayRead(change.record, reader: bea))
        #expect(try !net["bob"].mayRead(change.record, reader: try net["bob"].ownReader()))
    }

    @Test func theDeviceDoesNotApplyAnotherTeamsOrATeammatesRestrictedRecord() throws {
        let net = try Network([("bob", "Kidal"), ("bea", "Kidal"), ("alice", "Gao")])
        defer { try? FileManager.default.removeItem(atPath: net.root) }
        let bob = net["bob"]
        let open = try bob.create(fields: ["title": "open"]).record
        let restricted = try bob.create(fields: ["title": "secret", "sensitivity": "restricted"]).record
        // Alice (Gao) takes nothing of Kidal's; Bea (Kidal) takes the open record only.
        let toAlice = try net["alice"].applyRemote(try net.changes(of: bob, missingAt: net["alice"]))
        #expect(toAlice.withheld == 2 && toAlice.applied == 0 && toAlice.sealedForServer == 0)
        #expect(try net["alice"].incidents().isEmpty)
        let toBea = try net["bea"].applyRemote(try net.changes(of: bob, missingAt: net["bea"]))
        #expect(toBea.withheld == 1 && toBea.applied == 1)
        #expect(try net["bea"].incident(id: open.id) != nil)
        #expect(try net["bea"].incident(id: restricted.id) == nil)
        // Bob restricts the open record later: Bea's copy goes when that change reaches her.
        _ = try bob.update(id: open.id, fields: ["sensitivity": "restricted"])
        let later = try net["bea"].applyRemote(try net.changes(of: bob, missingAt: net["bea"]))
        #expect(later.withheld >= 1)
        #expect(try net["bea"].incident(id: open.id) == nil)
        #expect(try net["bea"].history(id: open.id).isEmpty)
    }

    @Test func aMovedRecordFollowsTheServersNotices() throws {
        let net = try Network([("bob", "Kidal"), ("bea", "Kidal"), ("alice", "Gao")])
        defer { try? FileManager.default.removeItem(atPath: net.root) }
        let bob = net["bob"]
        let moved = try bob.create(fields: ["title": "moved"]).record
        let stays = try bob.create(fields: ["title": "stays"]).record
        let bea = try bob.reader(of: net["bea"].replica)
        let alice = try bob.reader(of: net["alice"].replica)
        try bob.setIntegerSetting(Store.serverAckedCounterSetting, 2)  // the server holds Bob's work
        // The server moved it to Gao: Bob may no longer read it and forgets it; Alice's team may.
        let forgotten = try bob.applyAccessNotices([
            AccessNotice(record: moved, team: "Gao", restricted: false, readable: false),
            AccessNotice(record: stays, team: "Kidal", restricted: false, readable: true),
        ])
        #expect(forgotten == 1)
        #expect(try bob.incident(id: moved.id) == nil && bob.history(id: moved.id).isEmpty)
        #expect(try bob.incident(id: stays.id) != nil)
        #expect(try bob.mayRead(moved, reader: alice))
        #expect(try !bob.mayRead(moved, reader: bea))
        #expect(try bob.mayRead(stays, reader: bea))
        // Alice takes it once her notice says it is Gao's, though its creator is in Kidal.
        let aliceStore = net["alice"]
        let bobsChanges = try bob.changes(missingFrom: SyncSummary(), limit: Int.max, maxBytes: Int.max).changes
        #expect(bobsChanges.count == 1)  // only "stays" is left at Bob's
        let movedChange = TestKeys.signed(
            Change(
                dot: Dot(replica: ReplicaID(bytes: Array(repeating: 9, count: 16)), counter: 1),
                record: RecordKey(id: "moved-to-gao"), deps: VersionVector(), tag: HLCTag(ms: 1_700_000_000_000, seq: 0),
                writes: ["title": "from elsewhere"]))
        try aliceStore.applyAccessNotices([
            AccessNotice(record: movedChange.record, team: "Gao", restricted: false, readable: true)
        ])
        #expect(try aliceStore.applyRemote([movedChange]).withheld == 0)
        // A notice that a record is restricted to someone else forgets it too.
        try aliceStore.applyAccessNotices([
            AccessNotice(record: movedChange.record, team: "Gao", restricted: true, readable: false)
        ])
        #expect(try aliceStore.incident(id: "moved-to-gao") == nil)
        // A stale peer handing it back in the clear is refused: the row remembers the record's team.
        let again = try aliceStore.applyRemote([movedChange])
        #expect(try aliceStore.incident(id: "moved-to-gao") == nil)
        #expect(again.applied == 0)
    }

    /// Forgetting a record leaves none of its text in the store's files, held-back changes and
    /// reused-dot evidence included; the control record's text stays.
    @Test func aForgottenRecordLeavesNoCanaryInTheStoreFiles() throws {
        let net = try Network([("bob", "Kidal")])
        defer { try? FileManager.default.removeItem(atPath: net.root) }
        let bob = net["bob"]
        let canary = "OUTPOST_CANARY_" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let control = "OUTPOST_CONTROL_" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let record = try bob.create(fields: ["title": .string("forget \(canary)"), "narrative": .string("n \(canary)")]).record
        _ = try bob.update(id: record.id, fields: ["narrative": .string("edited \(canary)")])
        let kept = try bob.create(fields: ["title": .string("keep \(control)")]).record
        // A held-back change of the record (its deps name a change not here).
        let peer = ReplicaID(bytes: Array(repeating: 5, count: 16))
        var deps = VersionVector()
        deps[peer] = 1
        let held = TestKeys.signed(
            Change(
                dot: Dot(replica: peer, counter: 2), record: record, deps: deps, tag: HLCTag(ms: 1_700_000_000_000, seq: 1),
                writes: ["narrative": .string("held \(canary)")]))
        #expect(try bob.applyRemote([held]).heldBack == 1)
        // Reused-dot evidence about the record (a discarded version kept in meta).
        try bob.write {
            try bob.setMeta(Store.discardedVersionMeta + "ab", .blob(held.encodedJSON()))
        }
        try bob.setIntegerSetting(Store.serverAckedCounterSetting, 3)  // the server holds Bob's work
        _ = try bob.checkpointAndTruncate(waitMilliseconds: 5_000)
        #expect(try Self.folderContains(canary, net.directory("bob")))  // it was there
        try bob.forget([record])
        _ = try bob.checkpointAndTruncate(waitMilliseconds: 5_000)
        #expect(try !Self.folderContains(canary, net.directory("bob")))
        #expect(try Self.folderContains(control, net.directory("bob")))  // control
        #expect(try bob.incident(id: record.id) == nil && bob.history(id: record.id).isEmpty)
        #expect(try bob.incident(id: kept.id) != nil)
        #expect(try bob.reusedDotEvidence().isEmpty)
        // The store still works and its summary no longer claims the forgotten changes.
        #expect(try bob.summary().entries[bob.replica]?.contiguous ?? 0 < 3)
        _ = try bob.create(fields: ["title": "after"])
    }

    /// Own work the server has not acknowledged is never lost by forgetting its record: without a
    /// parcel key to seal it for the server, it stays.
    @Test func forgettingKeepsOwnWorkTheServerLacksWhenItCannotBeSealed() throws {
        let net = try Network([("bob", "Kidal")])
        defer { try? FileManager.default.removeItem(atPath: net.root) }
        let bob = net["bob"]
        let record = try bob.create(fields: ["title": "not yet sent"]).record
        try bob.applyAccessNotices([AccessNotice(record: record, team: "Gao", restricted: false, readable: false)])
        #expect(try bob.incident(id: record.id)?.fields["title"] == "not yet sent")
        #expect(try bob.history(id: record.id).count == 1)
        // Once the server holds it, it goes.
        try bob.setIntegerSetting(Store.serverAckedCounterSetting, 1)
        try bob.forget([record])
        #expect(try bob.incident(id: record.id) == nil && bob.history(id: record.id).isEmpty)
    }

    @Test func anEncryptedStoreKeepsTheTeamOfANoticeSealed() throws {
        let net = try Network([("bob", "Kidal")], encrypted: true)
        defer { try? FileManager.default.removeItem(atPath: net.root) }
        let team = "Team" + String(UUID().uuidString.prefix(8)).replacingOccurrences(of: "-", with: "")
        try net["bob"].applyAccessNotices([
            AccessNotice(record: RecordKey(id: "r1"), team: team, restricted: false, readable: false)
        ])
        _ = try net["bob"].checkpointAndTruncate(waitMilliseconds: 5_000)
        #expect(try !Self.folderContains(team, net.directory("bob")))
        #expect(try net["bob"].mayRead(RecordKey(id: "r1"), reader: .teammate(in: team)))
    }

    static func folderContains(_ text: String, _ directory: String) throws -> Bool {
        try StoreEncryptionTests.folderContains(Array(text.utf8), directory)
    }
}
