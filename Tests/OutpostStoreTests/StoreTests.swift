import Foundation
import OutpostCore
import Testing

@testable import OutpostStore

/// A fresh store folder under the temporary directory, removed by the caller.
/// Undoes schemas 8 to 4 of a store (no analyst replicas, web sessions, teams or parcels, roster,
/// verification, held-back waits), as an older Outpost left it, so the next open migrates it again.
let backToSchemaThree = """
    DROP TABLE parcels_opened;
    DROP TABLE parcels;
    DROP INDEX record_access_pos;
    DROP TABLE record_access;
    DROP TABLE token_teams;
    ALTER TABLE server_tokens DROP COLUMN team;
    ALTER TABLE roster DROP COLUMN team;
    DELETE FROM schema_migrations WHERE version = 6;
    DROP INDEX changes_unverified;
    ALTER TABLE changes DROP COLUMN verified;
    ALTER TABLE changes DROP COLUMN delivered_by;
    DROP TABLE roster;
    DROP TABLE security_events;
    DELETE FROM schema_migrations WHERE version = 5;
    DROP TABLE held_waits;
    DROP INDEX changes_held_by_author;
    ALTER TABLE changes DROP COLUMN waiting;
    DELETE FROM schema_migrations WHERE version = 4;
    DROP TABLE web_sessions;
    DELETE FROM schema_migrations WHERE version = 7;
    DROP TABLE analyst_replicas;
    DELETE FROM schema_migrations WHERE version = 8;
    """

func temporaryStoreDirectory() -> String {
    let dir = NSTemporaryDirectory() + "outpost-store-tests-" + UUID().uuidString
    return dir
}

@Suite struct StoreTests {
    @Test func createOpenAndRefuseSecondInit() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir, reporter: "alice")
        #expect(try store.reporter == "alice")
        #expect(throws: StoreError.self) { try Store.create(at: dir, reporter: "bob") }
        let reopened = try Store.open(at: dir)
        #expect(reopened.replica == store.replica)
        #expect(try reopened.reporter == "alice")
    }

    /// Stored states leave out a sibling's reporter when the replicas table has it: a second
    /// connection that learns of the replica later must still read it back.
    @Test func reportersSurviveTheCompactStateAcrossConnections() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try Store.create(at: dir, reporter: "alice")
        let second = try Store.open(at: dir)
        let id = try first.create(fields: ["title": "t"], wallMs: 1).record.id
        let bob = ReplicaID.random()
        let deps = VersionVector([first.replica: 1])
        try first.applyRemote([
            TestKeys.signed(
                Change(
                    dot: Dot(replica: bob, counter: 1), record: RecordKey(id: id), deps: deps, tag: HLCTag(ms: 2, seq: 0),
                    writes: ["killed": 1], reporter: "bob"))
        ])
        // The second connection meets bob through a change first (index lookup), then reads.
        try second.applyRemote([
            TestKeys.signed(
                Change(
                    dot: Dot(replica: bob, counter: 2), record: RecordKey(id: id), deps: deps, tag: HLCTag(ms: 3, seq: 0),
                    writes: ["injured": 2], reporter: "bob"))
        ])
        for store in [first, second] {
            let state = try #require(try store.recordState(id: id))
            #expect(state.fields["killed"]?.first?.reporter == "bob")
            #expect(state.fields["injured"]?.first?.reporter == "bob")
            #expect(state.fields["title"]?.first?.reporter == "alice")
        }
        let reopened = try Store.open(at: dir)
        #expect(try reopened.recordState(id: id) == (try first.recordState(id: id)))
    }

    @Test func missingStoreIsNamed() {
        #expect {
            try Store.open(at: "/nonexistent/outpost-store")
        } throws: { error in
            (error as? StoreError)?.kind == .missing
        }
    }

    @Test func localEditsGoThroughTheChangeLog() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir, reporter: "alice")
        let created = try store.create(fields: ["title": "Market attack", "killed": 3], wallMs: 1000)
        let id = created.record.id
        try store.update(id: id, fields: ["killed": 4, "place_name": "Gao"], wallMs: 900)
        let record = try #require(try store.incident(id: id))
        #expect(record.fields == ["title": "Market attack", "killed": 4, "place_name": "Gao"])
        let history = try store.history(id: id)
        #expect(history.count == 2)
        #expect(history[1].change.deps[store.replica] == 1)
        // The clock never runs backwards: the second edit is tagged 1000.1 although the wall said 900.
        #expect(history[1].change.tag == HLCTag(ms: 1000, seq: 1))
        try store.delete(id: id, wallMs: 2000)
        #expect(try store.incidents().isEmpty)
        #expect(try store.incidents(includeDeleted: true).count == 1)
        try store.restore(id: id, wallMs: 3000)
        #expect(try store.incidents().count == 1)
        let status = try store.status()
        #expect(status.ownChanges == 4)
        #expect(status.unsyncedChanges == 4)
    }

    @Test func invalidValuesAreRefusedAndNothingIsStored() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir, reporter: "alice")
        #expect(throws: StoreError.self) { try store.create(fields: ["title": "  "]) }
        #expect(throws: StoreError.self) { try store.create(fields: ["title": "x", "lat": 91]) }
        #expect(throws: StoreError.self) {
            try store.importIncidents([
                IncidentInput(fields: ["title": "ok"]), IncidentInput(fields: ["title": "bad", "killed": -1]),
            ])
        }
        #expect(try store.status().totalChanges == 0)
        #expect(throws: StoreError.self) { try store.update(id: "nope", fields: ["killed": 1]) }
    }

    /// A large import goes through a rollback journal when no other connection has the store
    /// open (its rows are written once, not to the WAL and again at the checkpoint), through
    /// the WAL when one has; either way the store is in WAL mode afterwards and holds every row.
    @Test func bulkImportUsesARollbackJournalOnlyWhenAlone() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir, reporter: "alice")
        let inputs = (0..<3_000).map {
            IncidentInput(fields: ["title": .string("incident \($0)"), "narrative": .string(String(repeating: "x", count: 900))])
        }
        let walPath = Store.databasePath(in: dir) + "-wal"
        func walBytes() -> Int { (try? FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int) ?? 0 }
        func journalMode(_ store: Store) throws -> String? {
            try store.db.prepare("PRAGMA journal_mode").first { $0.text(0) } ?? nil
        }

        let ids = try store.importIncidents(Array(inputs[..<1_500]))
        #expect(ids.count == 1_500)
        #expect(try journalMode(store) == "wal")
        #expect(walBytes() < 1 << 20, "the rows went through the WAL: \(walBytes()) bytes")

        // A bulk transaction that fails (an id already taken) is rolled back, and the store is in WAL mode again.
        #expect(throws: StoreError.self) {
            // Large enough for the rollback journal: 1,000 new incidents, then one whose id is taken.
            try store.importIncidents(
                Array(repeating: IncidentInput(fields: ["title": "new"]), count: Store.rollbackJournalRows)
                    + [IncidentInput(id: ids[7], fields: ["title": "again"])])
        }
        #expect(try journalMode(store) == "wal")
        #expect(try store.status().incidents == 1_500)

        // A second connection (another process, say) is open: the import uses the WAL.
        let other = try Store.open(at: dir)
        #expect(try store.importIncidents(Array(inputs[1_500...])).count == 1_500)
        #expect(walBytes() > 2 << 20)
        #expect(try journalMode(store) == "wal" && journalMode(other) == "wal")
        #expect(try other.status().incidents == 3_000)
        #expect(try Store.open(at: dir).status().incidents == 3_000)
    }

    /// A bundle's changes (`bulk`) go through a rollback journal too, and leave the store in WAL mode.
    @Test func bulkRemoteChangesUseARollbackJournal() throws {
        let source = temporaryStoreDirectory()
        let dir = temporaryStoreDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: source)
            try? FileManager.default.removeItem(atPath: dir)
        }
        let alice = try Store.create(at: source, reporter: "alice")
        _ = try alice.importIncidents((0..<2_000).map { IncidentInput(fields: ["title": .string("incident \($0)")]) })
        let changes = try alice.changes(afterSeq: 0, limit: 10_000, maxBytes: .max).changes.map { try $0.change() }
        let store = try Store.create(at: dir, reporter: "bob")
        let walPath = Store.databasePath(in: dir) + "-wal"
        let report = try store.applyRemote(changes, bulk: true)
        #expect(report.applied == 2_000)
        #expect(try store.db.prepare("PRAGMA journal_mode").first { $0.text(0) } == "wal")
        #expect(((try? FileManager.default.attributesOfItem(atPath: walPath)[.size] as? Int) ?? 0) < 1 << 20)
        #expect(try Store.open(at: dir).status().incidents == 2_000)
    }

    @Test func concurrentEditsBecomeSiblingsAndAWriteResolvesThem() throws {
        let dirA = temporaryStoreDirectory()
        let dirB = temporaryStoreDirectory()
        defer {
            try? FileManager.default.removeItem(atPath: dirA)
            try? FileManager.default.removeItem(atPath: dirB)
        }
        let a = try Store.create(at: dirA, reporter: "alice", replica: ReplicaID(bytes: Array("alice".utf8)))
        let b = try Store.create(at: dirB, reporter: "bob", replica: ReplicaID(bytes: Array("bob".utf8)))
        let create = try a.create(id: "r1", fields: ["title": "Attack"], wallMs: 1000)
        try b.applyRemote([create])
        let ea = try a.update(id: "r1", fields: ["title": "Attack A"], wallMs: 2000)
        let eb = try b.update(id: "r1", fields: ["title": "Attack B"], wallMs: 3000)
        try a.applyRemote([eb])
        try b.applyRemote([ea, ea])
        for store in [a, b] {
            #expect(try store.incident(id: "r1")?.fields["title"] == "Attack B")
            let conflicts = try store.conflicts()
            #expect(conflicts.count == 1)
            #expect(conflicts.first?.fields.first?.siblings.map(\.value) == ["Attack B", "Attack A"])
        }
        let fix = try a.resolve(id: "r1", field: "title", value: "Attack on Gao market", wallMs: 4000)
        try b.applyRemote([fix])
        #expect(try b.conflicts().isEmpty)
        #expect(try b.incident(id: "r1")?.fields["title"] == "Attack on Gao market")
    }

    @Test func heldBackChangesAreAppliedWhenTheirDepsArrive() throws {
        let dirs = (0..<3).map { _ in temporaryStoreDirectory() }
        defer { for d in dirs { try? FileManager.default.removeItem(atPath: d) } }
        let a = try Store.create(at: dirs[0], reporter: "alice")
        let b = try Store.create(at: dirs[1], reporter: "bob")
        let c = try Store.create(at: dirs[2], reporter: "carol")
        let create = try a.create(id: "r1", fields: ["title": "Ambush"], wallMs: 1000)
        try b.applyRemote([create])
        let edit = try b.update(id: "r1", fields: ["injured": 2], wallMs: 2000)
        let early = try c.applyRemote([edit])
        #expect(early.heldBack == 1)
        #expect(try c.incident(id: "r1") == nil)
        #expect(try c.status().heldBackChanges == 1)
        // The held-back change survives reopening the store.
        let reopened = try Store.open(at: dirs[2])
        let late = try reopened.applyRemote([create])
        #expect(late.released == 1)
        #expect(try reopened.incident(id: "r1")?.fields == ["title": "Ambush", "injured": 2])
        #expect(try reopened.status().heldBackChanges == 0)
        let summary = try reopened.summary()
        #expect(summary.entries[a.replica]?.contiguous == 1)
        #expect(summary.entries[b.replica]?.contiguous == 1)
    }

    @Test func aNewerSchemaIsRefusedUnchanged() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try Store.create(at: dir, reporter: "alice")
        let db = try Database(path: Store.databasePath(in: dir), create: false)
        try db.execute("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (999, 'future.sql', 0)")
        #expect {
            try Store.open(at: dir)
        } throws: { error in
            (error as? StoreError)?.kind == .schemaTooNew
        }
        let count = try db.prepare("SELECT count(*) FROM schema_migrations").first { $0.int(0) }
        #expect(count == Int64(Migrator.latestVersion) + 1)
    }

    @Test func aVersionTwoStoreKeepsItsHistoryThroughMigrationThree() throws {
        let dirs = (0..<2).map { _ in temporaryStoreDirectory() }
        defer { for d in dirs { try? FileManager.default.removeItem(atPath: d) } }
        let before: [HistoryEntry]
        let incidentsBefore: [IncidentRecord]
        do {
            let a = try Store.create(at: dirs[0], reporter: "alice")
            let b = try Store.create(at: dirs[1], reporter: "bob")
            let create = try a.create(id: "r1", fields: ["title": "Ambush", "killed": 2], wallMs: 1000)
            try a.create(id: "r2", fields: ["title": "Other"], wallMs: 1100)
            try b.applyRemote([create])
            let edit = try b.update(id: "r1", fields: ["injured": 2], wallMs: 2000)
            let later = try b.update(id: "r1", fields: ["killed": 3], wallMs: 3000)
            try a.applyRemote([later])  // held back until `edit` arrives
            try a.update(id: "r1", fields: ["status": "verified"], wallMs: 4000)
            before = try a.history(id: "r1")
            incidentsBefore = try a.incidents()
            #expect(before.count == 3 && before.last?.applied == false)
            _ = edit
        }
        // Turn the store back into schema 2: no held-back waits (schema 4), visible copy and the
        // two indexes, no log.
        do {
            let db = try Database(path: Store.databasePath(in: dirs[0]), create: false)
            try db.execute(backToSchemaThree)
            try db.execute(
                """
                ALTER TABLE records ADD COLUMN visible TEXT NOT NULL DEFAULT '{}';
                CREATE INDEX changes_by_record ON changes(collection, record);
                CREATE INDEX records_updated ON records(updated_seq);
                ALTER TABLE records DROP COLUMN log;
                DELETE FROM schema_migrations WHERE version = 3;
                """)
        }
        let migrated = try Store.open(at: dirs[0])
        #expect(try migrated.history(id: "r1") == before)
        #expect(try migrated.history(id: "r2").count == 1)
        #expect(try migrated.incidents() == incidentsBefore)
        // New changes keep extending the migrated log.
        try migrated.update(id: "r2", fields: ["killed": 1], wallMs: 5000)
        #expect(try migrated.history(id: "r2").map(\.change.writes) == [["title": "Other"], ["killed": 1]])
    }

    @Test func newIDsAreTimeOrderedUUIDs() throws {
        let dir = temporaryStoreDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir, reporter: "alice")
        var ids: [String] = []
        for i in 0..<5 {
            store.systemClock = { 1_767_225_600_000 + Int64(i) }
            ids.append(try store.create(fields: ["title": "t"]).record.id)
        }
        #expect(ids == ids.sorted())
        for id in ids {
            #expect(UUID(uuidString: id) != nil && id == id.lowercased())
            #expect(Array(id.utf8)[14] == UInt8(ascii: "7"))
        }
        // Ids made together (an import) come in ascending order, and all differ.
        let batch = Store.newIDs(count: 2000, ms: 1_767_225_600_000)
        #expect(batch == batch.sorted() && Set(batch).count == 2000)
        #expect(batch.allSatisfy { UUID(uuidString: $0) != nil && Array($0.utf8)[14] == UInt8(ascii: "7") })
        #expect(UUIDv7.make(ms: 0x0123_4567_89AB, randomA: 0, randomB: 0) == "01234567-89ab-7000-8000-000000000000")
        #expect(UUIDv7.make(ms: 1, randomA: .max, randomB: .max) == "00000000-0001-7fff-bfff-ffffffffffff")
    }
}
