import Foundation
import OutpostCore
import Testing

@testable import OutpostStore
@testable import OutpostSync

/// Issue 10: "a store that holds such a change from an older version still lists it". The
/// store's own log is read without the wire's bounds, and nothing formatting its values traps.
@Suite struct StoredOutOfRangeTests {
    @Test func aStoreHoldingAnOlderVersionsPoisonChangeStillListsIt() async throws {
        let root = temporaryPath("poison")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let store = try Store.create(at: root, reporter: "server", replica: ReplicaID(bytes: Array("server".utf8)))
        let mallory = ReplicaID(bytes: Array("mallory".utf8))
        let bob = ReplicaID(bytes: Array("bob".utf8))
        let fine = DeviceKey().signed(
            Change(
                dot: Dot(replica: mallory, counter: 1), record: RecordKey(id: "p1"), deps: VersionVector(),
                tag: HLCTag(ms: 1_772_359_200_000, seq: 0), writes: ["title": "poison"], reporter: "mallory"))
        try store.applyRemote([fine])
        // What an older version (no bounds) stored: the poison time and an unbounded reporter in
        // the log, a sibling at the other end of time in the state.
        var poison = fine
        poison.tag.ms = Int64.min
        poison.reporter = String(repeating: "r", count: 1000)
        let other = Change(
            dot: Dot(replica: bob, counter: 9_007_199_254_740_993), record: fine.record, deps: VersionVector(),
            tag: HLCTag(ms: Int64.max, seq: 0), writes: ["title": "far future"])
        var state = RecordState()
        state.apply(poison)
        state.apply(other)
        #expect(state.hasConflict)
        try store.write {
            let encoded = try state.encodedBinary(numbering: store.numbering)
            try store.db.cached("UPDATE changes SET body = ?, ms = ?").bind(.blob(poison.encodedJSON()), .integer(Int64.min))
                .run()
            try store.db.cached("UPDATE records SET state = ?, conflict = 1, created_ms = ?, updated_ms = ?")
                .bind(.blob(encoded), .integer(Int64.min), .integer(Int64.max)).run()
        }

        // The server's pull does not relay it (every device would refuse the answer carrying it).
        #expect(try store.changes(afterSeq: 0).changes.isEmpty)
        // The wire refuses the stored bytes; the store reads them.
        let body = try #require(try store.db.cached("SELECT body FROM changes").first { $0.bytes(0) })
        #expect(throws: (any Error).self) { try body.withUnsafeBufferPointer { try Change(jsonBytes: $0) } }

        let listed = try store.incidents()
        #expect(listed.map(\.id) == ["p1"])
        #expect(DateText.rfc3339(epochMilliseconds: listed[0].createdMs) == "0001-01-01T00:00:00.000Z")
        #expect(DateText.rfc3339(epochMilliseconds: listed[0].updatedMs) == "9999-12-31T23:59:59.999Z")
        let history = try store.history(id: "p1")
        #expect(history.map(\.change) == [poison])
        #expect(history[0].change.boundsProblem?.hasPrefix("ms must be") == true)
        let conflicts = try store.conflicts()
        #expect(conflicts.first?.fields.first?.siblings.map(\.value) == ["far future", "poison"])
        let times = conflicts.flatMap(\.fields).flatMap(\.siblings).map { DateText.rfc3339(epochMilliseconds: $0.tag.ms) }
        #expect(times == ["9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00.000Z"])
        // A peer reading this store's log (in-process sync) gets the change as stored.
        let batch = try await StoreTransport(store: store).changes(
            missingFrom: SyncSummary(), afterSeq: 0, limit: 10, maxBytes: 1 << 20)
        #expect(batch.changes == [poison])
        _ = try ScenarioReplicaView(store: store)
    }
}
