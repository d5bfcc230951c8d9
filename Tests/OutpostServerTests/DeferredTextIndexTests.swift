import Foundation
import HummingbirdTesting
import OutpostCore
import OutpostSync
import Testing

@testable import OutpostServer
@testable import OutpostStore

/// The text of pushed incidents is indexed after the push (`QueryTextIndexer`), yet a text query
/// finds them at once: before the drain by their current state, after it from the index, and
/// after a restart that found them pending.
@Suite struct DeferredTextIndexTests {
    /// The ids of the incidents `GET /v1/incidents?q=text` lists for the analyst, and the total.
    static func search(_ client: any TestClientProtocol, _ analyst: String, _ text: String) async throws -> ([String], Int) {
        let q = text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
        let response = try await client.executeRequest(
            uri: "/v1/incidents?q=\(q)", method: .get, headers: bearer(analyst), body: nil)
        #expect(response.status == .ok)
        let json = try responseJSON(response)
        let ids = json["incidents"]?.arrayValue?.compactMap { $0["id"]?.stringValue } ?? []
        return (ids, Int(json["total"]?.intValue ?? -1))
    }

    /// How many rows of the trigram index match `text` (whether the index itself holds it).
    static func indexed(_ store: Store, _ text: String) throws -> Int {
        try store.read {
            try store.db.prepare("SELECT count(*) FROM query_text WHERE query_text MATCH ?").bind(.text("\"\(text)\""))
                .first { Int($0.int(0)) } ?? -1
        }
    }

    @Test func aPushedIncidentIsFoundByTextBeforeAndAfterItsTextIsIndexed() async throws {
        let fixture = try ServerFixture(textIndexDelay: .infinity)
        #expect(try fixture.store.hasQueryIndexes())
        let alice = try fixture.replica("alice")
        let token = try fixture.token("alice", for: alice)
        let analyst = try fixture.token("desk", .analyst)
        let id = try alice.create(fields: ["title": "Ferry capsized near Mopti", "narrative": "Pirogue overturned"]).record.id
        try alice.create(fields: ["title": "Quiet day"])
        try await fixture.test { client in
            #expect(try await ServerSyncClient(store: alice, link: RouterLink(client: client, token: token)).run().sent == 2)
            // Pending: the index does not hold the text yet, the query finds it by the record.
            #expect(try fixture.store.pendingQueryText() == 2)
            #expect(try Self.indexed(fixture.store, "capsized") == 0)
            #expect(try await Self.search(client, analyst, "CAPSIZED") == ([id], 1))
            #expect(try await Self.search(client, analyst, "pirogue over") == ([id], 1))
            // Positive control: text nobody wrote is found nowhere.
            #expect(try await Self.search(client, analyst, "locust swarm") == ([], 0))
            // An edit while pending: the old text no longer matches, the new one does.
            _ = try alice.update(id: id, fields: ["title": "Ferry sank near Mopti"])
            _ = try await ServerSyncClient(store: alice, link: RouterLink(client: client, token: token)).run()
            #expect(try await Self.search(client, analyst, "capsized") == ([], 0))
            #expect(try await Self.search(client, analyst, "sank") == ([id], 1))

            try await fixture.backend.textIndexer?.drainNow()
            #expect(try fixture.store.pendingQueryText() == 0)
            #expect(try Self.indexed(fixture.store, "sank") == 1)
            #expect(try Self.indexed(fixture.store, "capsized") == 0)
            #expect(try await Self.search(client, analyst, "sank") == ([id], 1))
            #expect(try await Self.search(client, analyst, "capsized") == ([], 0))
            #expect(try await Self.search(client, analyst, "locust swarm") == ([], 0))

            // Indexed text edited again: pending once more, the stale index entry is not used.
            _ = try alice.update(id: id, fields: ["title": "Ferry rescued"])
            _ = try await ServerSyncClient(store: alice, link: RouterLink(client: client, token: token)).run()
            #expect(try fixture.store.pendingQueryText() == 1)
            #expect(try Self.indexed(fixture.store, "sank") == 1)
            #expect(try await Self.search(client, analyst, "sank") == ([], 0))
            #expect(try await Self.search(client, analyst, "rescued") == ([id], 1))
        }
    }

    @Test func theServerIndexesPushedTextOnItsOwnAfterAPush() async throws {
        let fixture = try ServerFixture(textIndexDelay: 0.05)
        let alice = try fixture.replica("alice")
        let token = try fixture.token("alice", for: alice)
        for i in 0..<30 { try alice.create(fields: ["title": .string("Convoy \(i) ambushed")]) }
        try await fixture.test { client in
            _ = try await ServerSyncClient(store: alice, link: RouterLink(client: client, token: token)).run()
        }
        var waited = 0
        while try fixture.store.pendingQueryText() > 0, waited < 200 {
            try await Task.sleep(for: .milliseconds(50))
            waited += 1
        }
        #expect(try fixture.store.pendingQueryText() == 0)
        #expect(try Self.indexed(fixture.store, "ambushed") == 30)
    }

    @Test func aRestartIndexesWhatWasLeftPending() async throws {
        let directory = NSTemporaryDirectory() + "outpost-deferred-text-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/server.db"
        do {
            let backend = try SQLiteBackend(databasePath: path, queryIndexes: true, textIndexDelay: .infinity)
            let device = DeviceKey()
            _ = try backend.enroll(reporter: "amadou", device: (device.replicaID, device.publicKey))
            let changes = (1...5).map { n in
                device.signed(
                    Change(
                        dot: Dot(replica: device.replicaID, counter: UInt64(n)), record: RecordKey(id: "inc-\(n)"),
                        deps: VersionVector(), tag: HLCTag(ms: 1_000 + Int64(n), seq: 0),
                        writes: ["title": .string("Drought report \(n)")], reporter: "amadou"))
            }
            // Applied and committed, its text pending: as a server killed before its indexer ran.
            try backend.store.applyRemote(changes, trust: .server)
            #expect(try backend.store.pendingQueryText() == 5)
            #expect(try Self.indexed(backend.store, "drought") == 0)
        }
        let restarted = try SQLiteBackend(databasePath: path, queryIndexes: true, textIndexDelay: .infinity)
        #expect(try restarted.store.pendingQueryText() == 0)
        #expect(try Self.indexed(restarted.store, "drought") == 5)
        var query = IncidentQuery()
        query.text = "drought report 3"
        #expect(try await restarted.incidents(matching: query).incidents.map(\.id) == ["inc-3"])
    }

    @Test func withoutQueryIndexesTheTablesAreDroppedAndTextIsScanned() async throws {
        let fixture = try ServerFixture(textIndexDelay: .infinity)
        #expect(try fixture.store.hasQueryIndexes())
        try fixture.store.create(id: "x-1", fields: ["title": "Bridge washed away"], wallMs: 5_000)
        let plain = try SQLiteBackend(databasePath: fixture.configuration.databasePath, queryIndexes: false)
        #expect(try plain.store.hasQueryIndexes() == false)
        var query = IncidentQuery()
        query.text = "washed"
        #expect(try await plain.incidents(matching: query).incidents.map(\.id) == ["x-1"])
    }
}
