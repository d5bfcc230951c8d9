import Foundation
import OutpostCore
import OutpostStore
import Testing

@testable import OutpostSync

/// The office: a server roster key and the entries it signs, without a server process.
struct Office {
    let rosterKey = DeviceKey()

    /// The entry the server would sign for `store`, enrolled as `reporter`.
    func entry(for store: Store, reporter: String, version: UInt64 = 1) throws -> RosterEntry {
        RosterEntry(replica: store.replica, key: store.publicKey, reporter: reporter, status: .active, version: version)
            .signed(by: rosterKey)
    }

    /// Gives each store the roster of every store (as a first server sync would), pinning the key.
    func enroll(_ stores: [(Store, String)]) throws {
        let entries = try stores.enumerated().map {
            try entry(for: $0.element.0, reporter: $0.element.1, version: UInt64($0.offset + 1))
        }
        for (store, _) in stores { try store.acceptRoster(entries, rosterKey: rosterKey.publicKey) }
    }
}

/// Three reporters' stores in a temporary folder, each with its own key (production replica IDs).
final class Reporters {
    let root: String
    let alice: Store
    let bob: Store
    let carol: Store

    init(_ label: String) throws {
        root = temporaryPath("trust-\(label)")
        alice = try Store.create(at: root + "/alice", reporter: "alice")
        bob = try Store.create(at: root + "/bob", reporter: "bob")
        carol = try Store.create(at: root + "/carol", reporter: "carol")
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }
}

/// A bundle of `store`'s changes with `alter` applied to the stored body of change `index`.
func bundle(of store: Store, altering index: Int? = nil, _ alter: (inout [UInt8]) -> Void = { _ in }) throws -> [UInt8] {
    var stored = try store.changes(missingFrom: SyncSummary(), afterSeq: 0, limit: Int.max, maxBytes: Int.max).changes
    if let index { alter(&stored[index].body) }
    return try BundleFile.encode(
        changes: stored, replica: store.replica, reporter: try store.reporter, createdMs: 0, roster: try store.roster(),
        rosterKey: try store.rosterKey())
}

/// Replaces the first occurrence of `old` in `bytes` by `new` (same length).
func replace(_ old: String, with new: String, in bytes: inout [UInt8]) {
    let o = Array(old.utf8), n = Array(new.utf8)
    precondition(o.count == n.count)
    guard let at = (0...(bytes.count - o.count)).first(where: { Array(bytes[$0..<$0 + o.count]) == o }) else {
        Issue.record("\(old) not found in the change")
        return
    }
    bytes.replaceSubrange(at..<at + o.count, with: n)
}

@Suite struct TrustTravelTests {
    /// Bob writes three incidents; one byte of the last one's title is altered in the bundle. The
    /// receiver refuses that change alone, naming its dot, and keeps the rest; the unaltered
    /// bundle is applied whole (positive control).
    @Test func aBundleWithOneAlteredByteLosesOnlyThatChange() throws {
        let r = try Reporters("altered")
        try Office().enroll([(r.alice, "alice"), (r.bob, "bob"), (r.carol, "carol")])
        for i in 0..<3 { try r.bob.create(id: "b\(i)", fields: ["title": .string("Road block \(i)")]) }
        let last = try #require(try allChanges(r.bob).last)

        let intact = try r.alice.applyBundle(try bundle(of: r.bob))
        #expect(intact.refused.isEmpty && intact.applied == 3 && intact.unverified == 0)
        #expect(try r.alice.attributedHistory(id: "b2").map(\.verified) == [true])

        let altered = try bundle(of: r.bob, altering: 2) { replace("Road block 2", with: "Road block 9", in: &$0) }
        let report = try r.carol.applyBundle(altered)
        #expect(report.refused.map(\.dot) == [last.dot])
        #expect(report.refused.first?.reason == .badSignature)
        #expect(report.refused.first?.description.contains(last.dot.description) == true)
        #expect(report.applied == 2)
        #expect(try r.carol.incident(id: "b2") == nil)
        #expect(try r.carol.incident(id: "b1")?.fields["title"] == "Road block 1")
        #expect(try r.carol.status().totalChanges == 2)
        // The real change still arrives later and is taken.
        #expect(try r.carol.applyBundle(try bundle(of: r.bob)).applied == 1)
        #expect(try r.carol.incident(id: "b2")?.fields["title"] == "Road block 2")
    }

    /// Changes claiming the recipient's own replica, at counters above its own, signed by another
    /// key, are refused; the recipient's later work is not mistaken for them: its counter goes on,
    /// `status` counts it unsynced, and it reaches a peer.
    @Test func forgedOwnChangesAreRefusedAndLaterWorkStillTravels() async throws {
        let r = try Reporters("forged")
        try Office().enroll([(r.alice, "alice"), (r.bob, "bob"), (r.carol, "carol")])
        try r.alice.create(id: "a0", fields: ["title": "Well poisoned"])
        let mallory = DeviceKey()
        let forged = (2...11).map { counter in
            mallory.signed(
                Change(
                    dot: Dot(replica: r.alice.replica, counter: UInt64(counter)), record: RecordKey(id: "f\(counter)"),
                    deps: VersionVector(), tag: HLCTag(ms: 1_700_000_000_000 + Int64(counter), seq: 0),
                    writes: ["title": .string("Forged \(counter)")], reporter: "alice"))
        }
        let file = try BundleFile.encode(
            changes: forged.map {
                StoredChange(seq: 0, replica: $0.dot.replica, counter: $0.dot.counter, body: $0.encodedJSON())
            },
            replica: r.bob.replica, reporter: "mallory", createdMs: 0)
        let report = try r.alice.applyBundle(file)
        #expect(report.refused.count == 10)
        #expect(report.refused.allSatisfy { $0.reason == .forgedOwnChange })
        #expect(report.applied == 0 && report.restoredFrom == nil)
        #expect(try r.alice.status().totalChanges == 1)

        let replica = r.alice.replica
        try r.alice.create(id: "a1", fields: ["title": "Second report"])
        let status = try r.alice.status()
        #expect(status.replica == replica && status.ownChanges == 2 && status.unsyncedChanges == 2)
        _ = try await SyncSession().run(StoreTransport(store: r.alice), StoreTransport(store: r.carol))
        #expect(try r.carol.incident(id: "a1")?.fields["title"] == "Second report")
        #expect(try r.carol.attributedHistory(id: "a1").map(\.verified) == [true])
        #expect(try r.carol.incident(id: "f2") == nil)
    }

    /// Bob (enrolled) gives his work to Alice; Carol pinned the server key but never received
    /// the roster. Alice's bundle carries the roster, so Bob's changes are verified at Carol and
    /// attributed to him. Without the roster (control) they stay unverified until it arrives.
    @Test func theRosterTravelsInABundleAndVerifiesBobAtAThirdDevice() async throws {
        let r = try Reporters("roster")
        let office = Office()
        try office.enroll([(r.alice, "alice"), (r.bob, "bob")])
        try r.carol.pinRosterKey(office.rosterKey.publicKey)
        try r.bob.create(id: "b0", fields: ["title": "Bridge down"])
        _ = try await SyncSession().send(from: StoreTransport(store: r.bob), to: StoreTransport(store: r.alice))
        #expect(try r.alice.attributedHistory(id: "b0").map(\.verified) == [true])

        // Control: the same changes without a roster stay unverified.
        let bare = try BundleFile.encode(
            changes: try r.alice.changes(missingFrom: SyncSummary(), afterSeq: 0, limit: 100, maxBytes: 1 << 20).changes,
            replica: r.alice.replica, reporter: "alice", createdMs: 0)
        let control = try Store.create(at: r.root + "/control", reporter: "dave")
        try control.pinRosterKey(office.rosterKey.publicKey)
        #expect(try control.applyBundle(bare).unverified == 1)
        #expect(try control.attributedHistory(id: "b0").map(\.verified) == [nil])
        #expect(try control.attributedHistory(id: "b0").map(\.author) == [nil])
        #expect(try control.unverifiedIncidentIDs() == ["b0"])

        let (file, _) = try r.alice.bundle()
        guard case .changes = try BundleFile.decode(file) else { throw BundleError("not a bundle of changes") }
        #expect(try BundleFile.decodeChanges(file).roster.count == 2)
        let report = try r.carol.applyBundle(file)
        #expect(report.refused.isEmpty && report.unverified == 0 && report.applied == 1)
        let history = try r.carol.attributedHistory(id: "b0")
        #expect(history.map(\.verified) == [true])
        #expect(history.map(\.author) == ["bob"])
        #expect(try r.carol.unverifiedIncidentIDs().isEmpty)

        // A device-to-device sync carries it too: the control store's unverified change verifies.
        _ = try await SyncSession().run(StoreTransport(store: control), StoreTransport(store: r.alice))
        #expect(try control.attributedHistory(id: "b0").map(\.verified) == [true])
        #expect(try control.unverifiedIncidentIDs().isEmpty)
    }

    /// A bundle cannot choose the roster key: a store that pinned none ignores the bundle's
    /// roster (signed by any key), and one that pinned the office's ignores entries signed by
    /// another key, so a peer's own key never passes for "bob".
    @Test func aBundleNeverPinsOrOverridesTheRosterKey() throws {
        let r = try Reporters("pin")
        let office = Office()
        let impostor = Office()
        try impostor.enroll([(r.alice, "alice"), (r.bob, "bob")])
        try r.bob.create(id: "b0", fields: ["title": "Bridge down"])
        try r.alice.applyRemote(try allChanges(r.bob))
        let (file, _) = try r.alice.bundle()
        _ = try r.carol.applyBundle(file)
        #expect(try r.carol.rosterKey() == nil)
        #expect(try r.carol.attributedHistory(id: "b0").map(\.verified) == [nil])
        let dave = try Store.create(at: r.root + "/dave", reporter: "dave")
        try dave.pinRosterKey(office.rosterKey.publicKey)
        _ = try dave.applyBundle(file)
        #expect(try dave.rosterKey() == office.rosterKey.publicKey)
        #expect(try dave.attributedHistory(id: "b0").map(\.verified) == [nil])
    }

    /// A bundle whose header carries a malformed roster entry is refused whole, naming it.
    @Test func aMalformedRosterInABundleIsRefused() throws {
        let r = try Reporters("malformed")
        try r.bob.create(id: "b0", fields: ["title": "Bridge down"])
        var entry = try Office().entry(for: r.bob, reporter: "bob")
        entry.key = [1, 2, 3]
        let file = try BundleFile.encode(
            changes: try r.bob.changes(missingFrom: SyncSummary(), afterSeq: 0, limit: 100, maxBytes: 1 << 20).changes,
            replica: r.bob.replica, reporter: "bob", createdMs: 0, roster: [entry])
        #expect {
            try r.carol.applyBundle(file)
        } throws: { error in
            "\(error)".contains("roster[0]")
        }
        #expect(try r.carol.status().totalChanges == 0)
    }
}
