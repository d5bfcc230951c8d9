import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import OutpostCore
import OutpostServer
import OutpostStore
import OutpostSync
import Testing

extension ServerFixture {
    /// A new device of `reporter` in `team`, enrolled by its key.
    func device(_ reporter: String, team: String) throws -> TestDevice {
        let key = DeviceKey()
        let token = try backend.enroll(reporter: reporter, device: (key.replicaID, key.publicKey), teams: [team])
        return TestDevice(key: key, token: token, reporter: reporter)
    }

    /// An analyst token of `teams` (none: every team).
    func analyst(_ name: String, teams: [String]) throws -> String {
        try backend.enroll(reporter: name, role: .analyst, device: nil, teams: teams)
    }
}

/// The answer to `device`'s sync carrying `changes`, pulling from `pullAfter`, asking for the
/// access notices after `accessAfter` (records an issue unless 200).
private func sync(
    _ client: any TestClientProtocol, _ device: TestDevice, _ changes: [Change] = [], pullAfter: Int64 = 0,
    pullLimit: Int = 1000, accessAfter: Int64? = nil
) async throws -> ServerSyncResponse {
    let request = ServerSyncRequest(
        replica: device.replica, reporter: device.reporter, changes: changes, pullAfter: pullAfter, pullLimit: pullLimit,
        accessAfter: accessAfter)
    let response = try await postSync(client, token: device.token, body: request.encoded())
    #expect(response.status == .ok, "\(response.status) \(errorMessage(response))")
    return try ServerSyncResponse.decode(try responseJSON(response))
}

private func get(_ client: any TestClientProtocol, _ uri: String, _ token: String) async throws -> TestResponse {
    try await client.executeRequest(uri: uri, method: .get, headers: bearer(token), body: nil)
}

private func move(_ client: any TestClientProtocol, _ id: String, to team: String, _ token: String) async throws -> TestResponse {
    try await client.executeRequest(
        uri: "/v1/incidents/\(id)/move", method: .post, headers: bearer(token, [.contentType: "application/json"]),
        body: ByteBuffer(bytes: Array(#"{"team":"\#(team)"}"#.utf8)))
}

/// The incident ids of a `GET /v1/incidents` answer.
private func listedIDs(_ response: TestResponse) throws -> Set<String> {
    Set((try responseJSON(response)["incidents"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue })
}

/// Issue 14 on the server: teams, restricted records, access notices and moves.
@Suite struct TeamServerTests {
    /// A Kidal reporter's pull never holds a Gao record, and its cursor still goes past it; a
    /// Gao reporter's pull does hold it (the control).
    @Test func aReporterPullsOnlyItsTeamsRecords() async throws {
        let fixture = try ServerFixture()
        let kidal = try fixture.device("bob", team: "Kidal")
        let kidalPeer = try fixture.device("karim", team: "Kidal")
        let gao = try fixture.device("alice", team: "Gao")
        let gaoPeer = try fixture.device("gado", team: "Gao")
        let gaoRecord = gao.change(1, id: "G1", writes: ["title": "Gao market"])
        let kidalRecord = kidal.change(1, id: "K1", writes: ["title": "Kidal well"])
        try await fixture.test { client in
            _ = try await sync(client, gao, [gaoRecord])
            _ = try await sync(client, kidal, [kidalRecord])
            let kidalPull = try await sync(client, kidalPeer)
            #expect(kidalPull.changes.map(\.dot) == [kidalRecord.dot])
            #expect(kidalPull.cursor == (try fixture.store.lastSeq()), "the cursor goes past the Gao change")
            #expect(!kidalPull.more)
            let gaoPull = try await sync(client, gaoPeer)
            #expect(gaoPull.changes.map(\.dot) == [gaoRecord.dot])
        }
        #expect(try fixture.store.serverAccess(of: RecordKey(id: "G1"))?.team == "Gao")
        #expect(try fixture.store.serverAccess(of: RecordKey(id: "K1"))?.author == "bob")
    }

    /// A pull looks at no more than 20 times its limit of log rows: past a long run of another
    /// team's changes it answers with none, `more: true` and a cursor that moved on.
    @Test func aLongRunOfAnotherTeamsChangesIsSkippedInBoundedSteps() async throws {
        let fixture = try ServerFixture()
        let gao = try fixture.device("alice", team: "Gao")
        let kidal = try fixture.device("bob", team: "Kidal")
        let changes = (1...100).map { gao.change(UInt64($0), id: "G\($0)", writes: ["title": .string("Gao \($0)")]) }
        let own = kidal.change(1, id: "K1", writes: ["title": "Kidal"])
        try await fixture.test { client in
            _ = try await sync(client, gao, changes)
            _ = try await sync(client, kidal, [own])
            let first = try await sync(client, kidal, pullLimit: 2)
            #expect(first.changes.isEmpty)
            #expect(first.cursor == 40)
            #expect(first.more)
            var cursor = first.cursor
            var rounds = 1
            var more = first.more
            while more && rounds < 10 {
                let next = try await sync(client, kidal, pullAfter: cursor, pullLimit: 2)
                #expect(next.changes.allSatisfy { $0.record.id.hasPrefix("K") })
                cursor = next.cursor
                more = next.more
                rounds += 1
            }
            #expect(!more)
            #expect(cursor == 101)
        }
    }

    /// A request that pulls nothing (`limit: 0`, while another request pulls) gets neither
    /// changes nor notices, and its access cursor stays where it asked.
    @Test func aRequestThatPullsNothingGetsNoNotices() async throws {
        let fixture = try ServerFixture()
        let author = try fixture.device("bob", team: "Kidal")
        let teammate = try fixture.device("karim", team: "Kidal")
        let made = author.change(1, id: "N1", writes: ["title": "x", "sensitivity": "restricted"])
        try await fixture.test { client in
            _ = try await sync(client, author, [made])
            let idle = try await sync(client, teammate, pullLimit: 0, accessAfter: 0)
            #expect(idle.changes.isEmpty && idle.access.isEmpty)
            #expect(idle.cursor == 0 && idle.more)
            #expect(idle.accessCursor == 0)
            let pulling = try await sync(client, teammate, accessAfter: 0)
            #expect(pulling.access.map(\.readable) == [])
            #expect(pulling.cursor == 1 && !pulling.more)
        }
    }

    /// A restricted record reaches its author's devices and analysts of its team, never a
    /// teammate nor an analyst of another team; an all-teams analyst reads it (control).
    @Test func aRestrictedRecordReachesOnlyItsAuthorAndItsTeamsAnalysts() async throws {
        let fixture = try ServerFixture()
        let author = try fixture.device("bob", team: "Kidal")
        let authorsOtherDevice = try fixture.device("bob", team: "Kidal")
        let teammate = try fixture.device("karim", team: "Kidal")
        let kidalDesk = try fixture.analyst("kdesk", teams: ["Kidal"])
        let gaoDesk = try fixture.analyst("gdesk", teams: ["Gao"])
        let everyDesk = try fixture.analyst("hq", teams: [])
        let secret = author.change(1, id: "R1", writes: ["title": "Witness list", "sensitivity": "restricted"])
        let open = author.change(2, id: "O1", writes: ["title": "Road closed"])
        try await fixture.test { client in
            _ = try await sync(client, author, [secret, open])
            #expect(try await sync(client, teammate).changes.map(\.dot) == [open.dot])
            #expect(Set(try await sync(client, authorsOtherDevice).changes.map(\.dot)) == [secret.dot, open.dot])
            #expect(try await get(client, "/v1/incidents/R1", kidalDesk).status == .ok)
            #expect(try await get(client, "/v1/incidents/R1", everyDesk).status == .ok)
            let refused = try await get(client, "/v1/incidents/R1", gaoDesk)
            #expect(refused.status == .notFound)
            #expect(errorCode(refused) == "unknown_incident", "the same answer as an unknown id")
            #expect(try listedIDs(try await get(client, "/v1/incidents", gaoDesk)).isEmpty)
            #expect(try listedIDs(try await get(client, "/v1/incidents", kidalDesk)) == ["R1", "O1"])
        }
    }

    /// Restricted set: a teammate gets a notice `readable: false`; cleared again: a notice
    /// `readable: true` with every change of the record. The author's own notices stay readable.
    @Test func aRestrictedFlipSendsNoticesAndBringsTheChangesBack() async throws {
        let fixture = try ServerFixture()
        let author = try fixture.device("bob", team: "Kidal")
        let teammate = try fixture.device("karim", team: "Kidal")
        let gao = try fixture.device("alice", team: "Gao")
        let made = author.change(1, id: "F1", writes: ["title": "Arrests", "sensitivity": "normal"])
        let restricted = author.change(2, id: "F1", deps: [author.replica: 1], writes: ["sensitivity": "restricted"])
        let cleared = author.change(3, id: "F1", deps: [author.replica: 2], writes: ["sensitivity": "sensitive"])
        try await fixture.test { client in
            _ = try await sync(client, author, [made])
            let first = try await sync(client, teammate, accessAfter: 0)
            #expect(first.changes.map(\.dot) == [made.dot])
            #expect(first.access.isEmpty)
            #expect(first.accessCursor == 0)

            _ = try await sync(client, author, [restricted])
            let hidden = try await sync(client, teammate, pullAfter: first.cursor, accessAfter: 0)
            #expect(
                hidden.access == [AccessNotice(record: RecordKey(id: "F1"), team: "Kidal", restricted: true, readable: false)])
            #expect(hidden.changes.isEmpty, "the restricting change itself is not pulled")
            #expect(hidden.accessCursor == 1)
            let own = try await sync(client, author, accessAfter: 0)
            #expect(own.access.map(\.readable) == [true])
            // Another team hears of it as not readable (and gets none of its changes).
            let other = try await sync(client, gao, accessAfter: 0)
            #expect(other.access.map(\.readable) == [false])
            #expect(other.changes.isEmpty)

            _ = try await sync(client, author, [cleared])
            let back = try await sync(client, teammate, pullAfter: hidden.cursor, accessAfter: hidden.accessCursor)
            #expect(back.access == [AccessNotice(record: RecordKey(id: "F1"), team: "Kidal", restricted: false, readable: true)])
            #expect(Set(back.changes.map(\.dot)) == [made.dot, restricted.dot, cleared.dot])
            #expect(back.accessCursor == 2)
            // Nothing new after the cursor: no notices, the cursor stays.
            let quiet = try await sync(client, teammate, pullAfter: back.cursor, accessAfter: back.accessCursor)
            #expect(quiet.access.isEmpty)
            #expect(quiet.accessCursor == 2)
        }
    }

    /// A move: the old team's devices get `readable: false`, the new team's the changes; the
    /// mover needs both teams; a reader of neither gets 404; a bad team name 400.
    @Test func aMoveTellsBothTeams() async throws {
        let fixture = try ServerFixture()
        let gao = try fixture.device("alice", team: "Gao")
        let kidal = try fixture.device("bob", team: "Kidal")
        let both = try fixture.analyst("hq", teams: ["Gao", "Kidal"])
        let gaoOnly = try fixture.analyst("gdesk", teams: ["Gao"])
        let kidalOnly = try fixture.analyst("kdesk", teams: ["Kidal"])
        let made = gao.change(1, id: "M1", writes: ["title": "Convoy attacked"])
        let edited = gao.change(2, id: "M1", deps: [gao.replica: 1], writes: ["killed": 3])
        try await fixture.test { client in
            _ = try await sync(client, gao, [made, edited])
            #expect(try await sync(client, kidal, accessAfter: 0).changes.isEmpty)

            let forbidden = try await move(client, "M1", to: "Kidal", gaoOnly)
            #expect(forbidden.status == .forbidden)
            let hidden = try await move(client, "M1", to: "Gao", kidalOnly)
            #expect(hidden.status == .notFound, "a Kidal analyst may not learn that a Gao incident exists")
            #expect(try await move(client, "M1", to: " Kidal", both).status == .badRequest)
            #expect(try await move(client, "NOPE", to: "Kidal", both).status == .notFound)

            let moved = try await move(client, "M1", to: "Kidal", both)
            #expect(moved.status == .ok)
            let body = try responseJSON(moved)
            #expect(body["incident"]?.stringValue == "M1")
            #expect(body["team"]?.stringValue == "Kidal")
            #expect(body["previous_team"]?.stringValue == "Gao")

            let oldTeam = try await sync(client, gao, pullAfter: 2, accessAfter: 0)
            #expect(
                oldTeam.access == [AccessNotice(record: RecordKey(id: "M1"), team: "Kidal", restricted: false, readable: false)])
            #expect(oldTeam.changes.isEmpty)
            let newTeam = try await sync(client, kidal, pullAfter: 2, accessAfter: 0)
            #expect(newTeam.access.map(\.readable) == [true])
            #expect(newTeam.changes.map(\.dot) == [made.dot, edited.dot])
            #expect(try await get(client, "/v1/incidents/M1", gaoOnly).status == .notFound)
            #expect(try await get(client, "/v1/incidents/M1", kidalOnly).status == .ok)
        }
        let row = try #require(try fixture.store.serverAccess(of: RecordKey(id: "M1")))
        #expect(row.team == "Kidal" && row.moved && row.author == "alice")
    }

    /// Notices come at most 1000 per answer, and a readable notice's changes count against the
    /// pull's limit: the rest follow with `more: true` and `access_cursor` at the last one sent.
    @Test func noticesArePaged() async throws {
        let fixture = try ServerFixture()
        let gao = try fixture.device("alice", team: "Gao")
        let kidal = try fixture.device("bob", team: "Kidal")
        let menaka = try fixture.device("moussa", team: "Menaka")
        let changes = (1...1005).map { gao.change(UInt64($0), id: "P\($0)", writes: ["title": .string("\($0)")]) }
        try await fixture.test { client in
            _ = try await sync(client, gao, changes)
            for change in changes {
                _ = try fixture.backend.moveNow(incident: change.record.id, to: "Menaka", by: .allTeams)
            }
            let first = try await sync(client, kidal, pullAfter: 1005, accessAfter: 0)
            #expect(first.access.count == 1000 && first.access.allSatisfy { !$0.readable })
            #expect(first.more && first.accessCursor == 1000)
            let rest = try await sync(client, kidal, pullAfter: 1005, accessAfter: first.accessCursor)
            #expect(rest.access.count == 5 && !rest.more && rest.accessCursor == 1005)

            let page = try await sync(client, menaka, pullAfter: 1005, pullLimit: 10, accessAfter: 0)
            #expect(page.access.count == 10 && page.changes.count == 10)
            #expect(page.more && page.accessCursor == 10)
            #expect(Set(page.changes.map(\.record.id)) == Set(page.access.map(\.record.id)))
        }
    }

    /// `outpost-server move` moves as the operator (every team), and says why it cannot.
    @Test func theOperatorMovesFromTheCommandLine() async throws {
        let fixture = try ServerFixture()
        let gao = try fixture.device("alice", team: "Gao")
        try await fixture.test { client in _ = try await sync(client, gao, [gao.change(1, id: "C1", writes: ["title": "x"])]) }
        let path = fixture.configuration.databasePath
        #expect(try ServerCommands.move(databasePath: path, incident: "C1", team: "Menaka") == "Gao")
        #expect(try fixture.store.serverAccess(of: RecordKey(id: "C1"))?.team == "Menaka")
        #expect(throws: ServerCommandError.self) { try ServerCommands.move(databasePath: path, incident: "ZZ", team: "Gao") }
        #expect(throws: ServerCommandError.self) { try ServerCommands.move(databasePath: path, incident: "C1", team: "") }
    }

    /// An analyst of Kidal sees no Gao incident in lists (plain and filtered) or details; an
    /// all-teams analyst sees both (the control).
    @Test(arguments: [true, false]) func anAnalystSeesOnlyItsTeams(queryIndexes: Bool) async throws {
        let fixture = try ServerFixture(queryIndexes: queryIndexes)
        let gao = try fixture.device("alice", team: "Gao")
        let kidal = try fixture.device("bob", team: "Kidal")
        let kidalDesk = try fixture.analyst("kdesk", teams: ["Kidal"])
        let everyDesk = try fixture.analyst("hq", teams: [])
        let admin = try fixture.token("root", .admin)
        try await fixture.test { client in
            _ = try await sync(client, gao, [gao.change(1, id: "G1", writes: ["title": "Market fire"])])
            _ = try await sync(client, kidal, [kidal.change(1, id: "K1", writes: ["title": "Market closed"])])
            #expect(try listedIDs(try await get(client, "/v1/incidents", kidalDesk)) == ["K1"])
            #expect(try listedIDs(try await get(client, "/v1/incidents?q=market", kidalDesk)) == ["K1"])
            #expect(try responseJSON(try await get(client, "/v1/incidents", kidalDesk))["total"] == .int(1))
            #expect(try await get(client, "/v1/incidents/G1", kidalDesk).status == .notFound)
            #expect(try listedIDs(try await get(client, "/v1/incidents", everyDesk)) == ["G1", "K1"])
            #expect(try listedIDs(try await get(client, "/v1/incidents?q=market", everyDesk)) == ["G1", "K1"])
            #expect(try await get(client, "/v1/incidents/G1", everyDesk).status == .ok)
            #expect(try await get(client, "/v1/incidents/G1", admin).status == .ok)
            // Asking for another team by name reads nothing more; the filter narrows within the scope.
            #expect(try listedIDs(try await get(client, "/v1/incidents?team=Gao", kidalDesk)) == [])
            #expect(try listedIDs(try await get(client, "/v1/incidents?team=Gao&q=market", kidalDesk)) == [])
            #expect(try listedIDs(try await get(client, "/v1/incidents?team=Kidal", kidalDesk)) == ["K1"])
            #expect(try listedIDs(try await get(client, "/v1/incidents?team=Gao", everyDesk)) == ["G1"])
            #expect(try listedIDs(try await get(client, "/v1/incidents?reporter=alice", everyDesk)) == ["G1"])
            #expect(try listedIDs(try await get(client, "/v1/incidents?reporter=alice", kidalDesk)) == [])
            #expect(try fixture.store.hasQueryIndexes() == queryIndexes)
        }
        // The operator's export on the box stays whole; an export for the Kidal analyst does not.
        var exported = ""
        try ServerCommands.export(databasePath: fixture.configuration.databasePath, format: .ndjson) { exported += $0 }
        #expect(exported.contains("G1") && exported.contains("K1"))
        for format in ExportFormat.allCases {
            var scoped = ""
            try IncidentExport.write(store: fixture.store, format: format, readableBy: .teams(["Kidal"])) { scoped += $0 }
            #expect(scoped.contains("K1") && !scoped.contains("G1"), "\(format)")
        }
    }

    /// Roster entries carry the team, signed: enrolled by key and bound at first sync alike; a
    /// tampered team fails verification.
    @Test func rosterEntriesCarryTheTeamSigned() async throws {
        let fixture = try ServerFixture()
        let enrolled = try fixture.device("bob", team: "Kidal")
        let store = try fixture.replica("alice")
        let token = try fixture.backend.enroll(reporter: "alice", device: nil, teams: ["Gao"])
        try await fixture.test { client in
            _ = try await ServerSyncClient(store: store, link: RouterLink(client: client, token: token), token: token).run()
        }
        let rosterKey = fixture.backend.rosterKey.publicKey
        let bob = try #require(try fixture.store.signedRosterEntry(of: enrolled.replica))
        let alice = try #require(try fixture.store.signedRosterEntry(of: store.replica))
        #expect(bob.team == "Kidal" && bob.isValid(rosterPublicKey: rosterKey))
        #expect(alice.team == "Gao" && alice.isValid(rosterPublicKey: rosterKey))
        var tampered = bob
        tampered.team = "Gao"
        #expect(!tampered.isValid(rosterPublicKey: rosterKey))
        tampered.team = nil
        #expect(!tampered.isValid(rosterPublicKey: rosterKey), "nor may the team be taken out")
        // Revoked, the entry keeps its team (devices still place the replica's records by it).
        _ = try fixture.backend.revoke(reporter: "bob")
        let revoked = try #require(try fixture.store.signedRosterEntry(of: enrolled.replica))
        #expect(revoked.status == .revoked && revoked.team == "Kidal" && revoked.isValid(rosterPublicKey: rosterKey))
    }

    /// A reporter belongs to one team: a second team is refused while its tokens are active, and
    /// allowed after they are revoked; bad names and an admin's team are refused.
    @Test func enrolRefusesASecondTeamForAReporter() throws {
        let fixture = try ServerFixture()
        _ = try fixture.backend.enroll(reporter: "bob", device: nil, teams: ["Kidal"])
        _ = try fixture.backend.enroll(reporter: "bob", device: nil, teams: ["Kidal"])
        do {
            _ = try fixture.backend.enroll(reporter: "bob", device: nil, teams: ["Gao"])
            Issue.record("a second team was accepted")
        } catch let error as ServerCommandError {
            #expect(error.description.contains("bob is in team Kidal; a reporter belongs to one team"))
        }
        #expect(throws: ServerCommandError.self) { _ = try fixture.backend.enroll(reporter: "bob", device: nil) }
        #expect(throws: ServerCommandError.self) {
            _ = try fixture.backend.enroll(reporter: "carol", device: nil, teams: ["Gao", "Kidal"])
        }
        #expect(throws: ServerCommandError.self) { _ = try fixture.backend.enroll(reporter: "dan", device: nil, teams: ["a/b"]) }
        #expect(throws: ServerCommandError.self) {
            _ = try fixture.backend.enroll(reporter: "root", role: .admin, device: nil, teams: ["Gao"])
        }
        _ = try fixture.backend.revoke(reporter: "bob")
        _ = try fixture.backend.enroll(reporter: "bob", device: nil, teams: ["Gao"])
        // An analyst may have many teams.
        let desk = try fixture.backend.enroll(reporter: "desk", role: .analyst, device: nil, teams: ["Gao", "Kidal"])
        #expect(desk.count == 43)
    }

    /// Changes applied outside a sync batch (a parcel) reach the record's team once
    /// `updateAccess(touching:)` has made its row; before that no reporter pulls them. An admin
    /// token pulls every team's records.
    @Test func anApplyOutsideSyncIsReadableOnceItsAccessIsUpdated() async throws {
        let fixture = try ServerFixture()
        let gao = try fixture.device("alice", team: "Gao")
        let gaoPeer = try fixture.device("gado", team: "Gao")
        let carried = gao.change(1, id: "P1", writes: ["title": "Carried in a parcel"])
        _ = try fixture.store.applyRemote([carried], trust: .server)
        try await fixture.test { client in
            #expect(try await sync(client, gaoPeer).changes.isEmpty, "no row yet: readable by no reporter")
            try fixture.backend.updateAccess(touching: [carried.record])
            #expect(try await sync(client, gaoPeer).changes.map(\.dot) == [carried.dot])
        }
        #expect(try fixture.store.serverAccess(of: carried.record)?.team == "Gao")
    }

    /// An admin token (which may sync) pulls every team's records, restricted ones too.
    @Test func anAdminPullsEveryTeam() async throws {
        let fixture = try ServerFixture()
        let gao = try fixture.device("alice", team: "Gao")
        let kidal = try fixture.device("bob", team: "Kidal")
        let key = DeviceKey()
        let admin = TestDevice(
            key: key, token: try fixture.backend.enroll(reporter: "root", role: .admin, device: (key.replicaID, key.publicKey)),
            reporter: "root")
        let changes = [
            gao.change(1, id: "A1", writes: ["title": "Gao"]),
            kidal.change(1, id: "A2", writes: ["title": "Kidal", "sensitivity": "restricted"]),
        ]
        try await fixture.test { client in
            _ = try await sync(client, gao, [changes[0]])
            _ = try await sync(client, kidal, [changes[1]])
            #expect(Set(try await sync(client, admin).changes.map(\.dot)) == Set(changes.map(\.dot)))
        }
    }

    /// Rows a crash left missing (applied, no access row) are made when the server opens.
    @Test func missingAccessRowsAreMadeAtStart() async throws {
        let fixture = try ServerFixture()
        let gao = try fixture.device("alice", team: "Gao")
        try await fixture.test { client in _ = try await sync(client, gao, [gao.change(1, id: "L1", writes: ["title": "x"])]) }
        let db = try Database(path: fixture.configuration.databasePath, create: false)
        try db.execute("DELETE FROM record_access")
        #expect(try fixture.store.serverAccess(of: RecordKey(id: "L1")) == nil)
        let reopened = try SQLiteBackend(databasePath: fixture.configuration.databasePath, create: false)
        #expect(try reopened.store.serverAccess(of: RecordKey(id: "L1"))?.team == "Gao")
    }
}
