import Foundation
import OutpostCore
import Testing

@testable import OutpostStore

/// Schema 4: a record made by one change stores an empty state and is read from that change.
@Suite struct FreshRecordTests {
    /// The stored state's length for each record id.
    private func storedStateLengths(_ store: Store) throws -> [String: Int64] {
        var out: [String: Int64] = [:]
        try store.db.cached("SELECT id, length(state) FROM records").forEach { out[$0.text(0) ?? ""] = $0.int(1) }
        return out
    }

    @Test func aRecordMadeByOneChangeStoresNoStateUntilItIsEdited() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir, reporter: "alice")
        let made = try store.create(fields: ["title": "Shelling at dawn", "killed": 3, "lat": 16.27], wallMs: 1_000)
        let imported = try store.importIncidents(
            [
                IncidentInput(id: nil, fields: ["title": "Market fire", "status": "draft"]),
                IncidentInput(id: "given-id", fields: ["title": "Road blocked", "narrative": "Trucks turned back"]),
            ], wallMs: 2_000)
        let ids = [made.record.id] + imported
        #expect(try storedStateLengths(store).values.allSatisfy { $0 == 0 })

        // Every read rebuilds the state from the creating change.
        var expected = RecordState()
        expected.apply(made)
        #expect(try store.recordState(id: made.record.id) == expected)
        #expect(try store.incident(id: made.record.id)?.fields == ["title": "Shelling at dawn", "killed": 3, "lat": 16.27])
        #expect(try store.incident(id: "given-id")?.fields == ["title": "Road blocked", "narrative": "Trucks turned back"])
        #expect(Set(try store.incidents().map(\.id)) == Set(ids))
        var seen = 0
        try store.forEachIncident { record in
            seen += 1
            #expect(record.fields["title"] != nil)
        }
        #expect(seen == 3)
        #expect(try store.history(id: made.record.id).count == 1)

        // An edit stores the merged state; the untouched records stay as they were.
        let edit = try store.update(id: made.record.id, fields: ["killed": 4], wallMs: 3_000)
        expected.apply(edit)
        let lengths = try storedStateLengths(store)
        #expect(lengths[made.record.id]! > 0)
        #expect(lengths["given-id"] == 0)
        #expect(try store.recordState(id: made.record.id) == expected)
        #expect(try store.incident(id: made.record.id)?.fields["killed"] == 4)
        #expect(try Store.open(at: dir).recordState(id: made.record.id) == expected)
    }

    @Test func aConcurrentEditOfAFreshRecordBecomesAConflict() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir, reporter: "alice")
        let made = try store.create(fields: ["title": "Checkpoint attack"], wallMs: 1_000)
        let id = made.record.id
        let bob = ReplicaID.random()
        let carol = ReplicaID.random()
        let deps = VersionVector([store.replica: 1])
        try store.applyRemote([
            Change(
                dot: Dot(replica: bob, counter: 1), record: RecordKey(id: id), deps: deps, tag: HLCTag(ms: 2_000, seq: 0),
                writes: ["title": "Checkpoint attack (bob)"], reporter: "bob"),
            Change(
                dot: Dot(replica: carol, counter: 1), record: RecordKey(id: id), deps: deps, tag: HLCTag(ms: 3_000, seq: 0),
                writes: ["title": "Checkpoint attack (carol)"], reporter: "carol"),
        ])
        let conflicts = try store.conflicts()
        #expect(conflicts.map(\.id) == [id])
        #expect(conflicts.first?.fields.first?.siblings.map(\.value) == ["Checkpoint attack (carol)", "Checkpoint attack (bob)"])
        #expect(try storedStateLengths(store)[id]! > 0)
    }

    @Test func aHeldBackEditWaitsForTheCreatingChangeOfAnUnknownRecord() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir, reporter: "alice")
        let bob = ReplicaID.random()
        let key = RecordKey(id: "from-bob")
        let create = Change(
            dot: Dot(replica: bob, counter: 1), record: key, deps: VersionVector(), tag: HLCTag(ms: 1_000, seq: 0),
            writes: ["title": "Looting reported"], reporter: "bob")
        let edit = Change(
            dot: Dot(replica: bob, counter: 2), record: key, deps: VersionVector([bob: 1]), tag: HLCTag(ms: 2_000, seq: 0),
            writes: ["injured": 2], reporter: "bob")
        #expect(try store.applyRemote([edit]).heldBack == 1)
        #expect(try store.incident(id: key.id) == nil)
        // The creation alone would store an empty state; its released edit makes a full one.
        #expect(try store.applyRemote([create]).released == 1)
        var expected = RecordState()
        expected.apply(create)
        expected.apply(edit)
        #expect(try store.recordState(id: key.id) == expected)
        #expect(try storedStateLengths(store)[key.id]! > 0)
    }

    @Test func aFreshRecordWithoutItsCreatingChangeIsReportedAsDamage() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir, reporter: "alice")
        let id = try store.create(fields: ["title": "Ambush"], wallMs: 1_000).record.id
        try store.db.execute("DELETE FROM changes")
        #expect {
            try store.incident(id: id)
        } throws: { error in
            (error as? StoreError)?.kind == .storage && "\(error)".contains("damaged")
        }
    }
}
