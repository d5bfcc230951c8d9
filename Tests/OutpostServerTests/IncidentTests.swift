import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OutpostCore
import OutpostServer
import OutpostStore
import OutpostSync
import Testing

@Suite struct IncidentTests {
    /// Seeds the server with incidents pushed by a reporter; returns the ids by title.
    static func seed(_ fixture: ServerFixture, client: any TestClientProtocol) async throws -> [String: String] {
        let store = try fixture.replica("seeder")
        let token = try fixture.token("seeder", for: store)
        var ids: [String: String] = [:]
        func add(_ fields: [String: JSONValue], at ms: Int64) throws {
            ids[fields["title"]!.stringValue!] = try store.create(fields: fields, wallMs: ms).record.id
        }
        try add(
            [
                "title": "Shelling in Goma", "event_type": "explosion_remote_violence", "lat": -1.68, "lon": 29.2,
                "status": "verified", "narrative": "Artillery hit the MARKET at dawn, \"heavy\"",
            ], at: 1_700_000_000_000)
        try add(
            [
                "title": "Protest in Bamako", "event_type": "protest", "lat": 12.64, "lon": -8.0, "status": "submitted",
                "place_name": "Place de l'Indépendance",
            ], at: 1_700_000_100_000)
        try add(
            [
                "title": "Riot in Gao", "event_type": "riot", "lat": 16.27, "lon": -0.04, "status": "submitted",
                "perpetrator": "Unknown militia",
            ], at: 1_700_000_200_000)
        try add(["title": "No location", "event_type": "other", "status": "draft"], at: 1_700_000_300_000)
        try add(
            ["title": "Fiji storm displacement", "event_type": "displacement", "lat": -17.7, "lon": 178.0], at: 1_700_000_400_000)
        try store.delete(id: ids["No location"]!, wallMs: 1_700_000_500_000)
        _ = try await ServerSyncClient(store: store, link: RouterLink(client: client, token: token)).run()
        return ids
    }

    static func titles(_ client: any TestClientProtocol, _ token: String, _ query: String) async throws -> [String] {
        let r = try await client.executeRequest(uri: "/v1/incidents" + query, method: .get, headers: bearer(token), body: nil)
        #expect(r.status == .ok, "\(query): \(String(decoding: r.body.readableBytesView, as: UTF8.self))")
        return try responseJSON(r)["incidents"]?.arrayValue?.compactMap { $0["fields"]?["title"]?.stringValue } ?? []
    }

    @Test func analystFilters() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("ana", .analyst)
        let admin = try fixture.token("root", .admin)
        try await fixture.test { client in
            _ = try await IncidentTests.seed(fixture, client: client)
            let all = try await IncidentTests.titles(client, analyst, "")
            #expect(all == ["Shelling in Goma", "Protest in Bamako", "Riot in Gao", "Fiji storm displacement"])
            #expect(try await IncidentTests.titles(client, admin, "?include_deleted=true").count == 5)
            #expect(try await IncidentTests.titles(client, analyst, "?event_type=riot") == ["Riot in Gao"])
            #expect(
                try await IncidentTests.titles(client, analyst, "?event_type=riot,protest") == [
                    "Protest in Bamako", "Riot in Gao",
                ])
            #expect(try await IncidentTests.titles(client, analyst, "?status=submitted").count == 2)
            #expect(try await IncidentTests.titles(client, analyst, "?status=verified&event_type=riot") == [])
            // bbox over West Africa: Bamako and Gao.
            #expect(
                try await IncidentTests.titles(client, analyst, "?bbox=-10,10,5,20") == ["Protest in Bamako", "Riot in Gao"])
            // bbox crossing the antimeridian.
            #expect(try await IncidentTests.titles(client, analyst, "?bbox=170,-20,-170,0") == ["Fiji storm displacement"])
            // q: case-insensitive over narrative, place_name, perpetrator…
            #expect(try await IncidentTests.titles(client, analyst, "?q=market") == ["Shelling in Goma"])
            #expect(try await IncidentTests.titles(client, analyst, "?q=MILITIA") == ["Riot in Gao"])
            #expect(try await IncidentTests.titles(client, analyst, "?q=ind%C3%A9pendance") == ["Protest in Bamako"])
            // since: RFC 3339 or ms.
            #expect(
                try await IncidentTests.titles(client, analyst, "?since=2023-11-14T22:15:00Z")
                    == ["Riot in Gao", "Fiji storm displacement"])
            #expect(try await IncidentTests.titles(client, analyst, "?since=1700000300000") == ["Fiji storm displacement"])
            // Paging by cursor and by offset.
            let first = try await client.executeRequest(
                uri: "/v1/incidents?limit=3", method: .get, headers: bearer(analyst), body: nil)
            let page1 = try responseJSON(first)
            #expect(page1["total"] == 4)
            let cursor = try #require(page1["next_cursor"]?.stringValue)
            #expect(try await IncidentTests.titles(client, analyst, "?limit=3&cursor=\(cursor)") == ["Fiji storm displacement"])
            #expect(
                try await IncidentTests.titles(client, analyst, "?limit=2&offset=2") == [
                    "Riot in Gao", "Fiji storm displacement",
                ])
            let lastPage = try await client.executeRequest(
                uri: "/v1/incidents?limit=3&cursor=\(cursor)", method: .get, headers: bearer(analyst), body: nil)
            #expect(try responseJSON(lastPage)["next_cursor"] == .null)
            // Bad filters are 400s that name the parameter.
            for (query, field) in [
                ("?bbox=1,2,3", "bbox"), ("?event_type=party", "event_type"), ("?since=yesterday", "since"),
                ("?limit=0", "limit"), ("?colour=red", "colour"), ("?cursor=!!", "cursor"), ("?status=done", "status"),
            ] {
                let r = try await client.executeRequest(
                    uri: "/v1/incidents" + query, method: .get, headers: bearer(analyst), body: nil)
                #expect(r.status == .badRequest, "\(query)")
                #expect(try responseJSON(r)["error"]?["field"]?.stringValue == field)
                #expect(errorMessage(r).contains(field))
            }
        }
    }

    @Test func detailShowsConflictsAndHistory() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("ana", .analyst)
        let alice = try fixture.replica("alice")
        let aliceToken = try fixture.token("alice", for: alice)
        let bob = try fixture.replica("bob")
        let bobToken = try fixture.token("bob", for: bob)
        let id = try alice.create(fields: ["title": "Clash", "killed": 2], wallMs: 1_000).record.id
        try await fixture.test { client in
            let a = ServerSyncClient(store: alice, link: RouterLink(client: client, token: aliceToken))
            let b = ServerSyncClient(store: bob, link: RouterLink(client: client, token: bobToken))
            _ = try await a.run()
            _ = try await b.run()
            // Concurrent edits of the same field.
            try alice.update(id: id, fields: ["killed": 3], wallMs: 2_000)
            try bob.update(id: id, fields: ["killed": 5], wallMs: 3_000)
            _ = try await a.run()
            _ = try await b.run()
            let r = try await client.executeRequest(uri: "/v1/incidents/\(id)", method: .get, headers: bearer(analyst), body: nil)
            #expect(r.status == .ok)
            let json = try responseJSON(r)
            #expect(json["incident"]?["fields"]?["killed"] == 5)
            #expect(json["incident"]?["conflict"] == true)
            let conflicts = try #require(json["conflicts"]?.arrayValue)
            #expect(conflicts.count == 1)
            #expect(conflicts[0]["field"] == "killed")
            let siblings = try #require(conflicts[0]["siblings"]?.arrayValue)
            #expect(siblings.map { $0["value"] } == [5, 3])
            #expect(siblings.map { $0["visible"] } == [true, false])
            #expect(siblings.map { $0["reporter"] } == ["bob", "alice"])
            #expect(siblings[0]["time"] == .string(DateText.rfc3339(epochMilliseconds: 3_000)))
            #expect(json["history"]?.arrayValue?.count == 3)
            #expect(json["kept_alive_by_concurrent_edit"] == false)
            let missing = try await client.executeRequest(
                uri: "/v1/incidents/nope", method: .get, headers: bearer(analyst), body: nil)
            #expect(missing.status == .notFound)
            #expect(errorCode(missing) == "unknown_incident")
        }
    }

    @Test func exportFormats() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in _ = try await IncidentTests.seed(fixture, client: client) }
        func run(_ format: ExportFormat) throws -> String {
            var out = ""
            try ServerCommands.export(databasePath: fixture.configuration.databasePath, format: format) { out += $0 }
            return out
        }
        let ndjson = try run(.ndjson).split(separator: "\n")
        #expect(ndjson.count == 4)
        #expect(try JSONParser.parse(String(ndjson[0]))["fields"]?["title"] == "Shelling in Goma")
        let csv = try run(.csv)
        let lines = csv.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(lines[0] == (["id"] + IncidentSchema.fieldNames).joined(separator: ","))
        #expect(lines.count == 5)
        #expect(csv.contains(",\"Artillery hit the MARKET at dawn, \"\"heavy\"\"\","))
        let geo = try JSONParser.parse(try run(.geojson))
        #expect(geo["type"] == "FeatureCollection")
        let features = try #require(geo["features"]?.arrayValue)
        #expect(features.count == 4)
        #expect(features[0]["geometry"]?["coordinates"] == [29.2, -1.68])
    }
}
