import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OutpostCore
import OutpostServer
import OutpostStore
import OutpostSync
import Testing

@Suite struct EnrolledNameTests {
    /// Bob's device calls itself "alice" in every change; analysts see bob, the enrolled reporter
    /// of the token that bound the replica, in history and in conflicts. A change of a replica no
    /// token was ever bound to shows no name at all, whatever it claims.
    @Test func historyAndConflictsShowTheEnrolledName() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("ana", .analyst)
        let alice = try fixture.replica("alice")
        let aliceToken = try fixture.token("alice", for: alice)
        let forger = try Store.create(at: fixture.directory + "/forger", reporter: "alice")
        let bobToken = try fixture.token("bob", for: forger)
        let id = try alice.create(fields: ["title": "Checkpoint closed"], wallMs: 1_700_000_000_000).record.id
        try await fixture.test { client in
            _ = try await ServerSyncClient(store: alice, link: RouterLink(client: client, token: aliceToken)).run()
            _ = try await ServerSyncClient(store: forger, link: RouterLink(client: client, token: bobToken)).run()
            // Concurrent edits of one field: a conflict with one sibling each.
            _ = try alice.update(id: id, fields: ["title": "Checkpoint reopened"], wallMs: 1_700_000_100_000)
            _ = try forger.update(id: id, fields: ["title": "Checkpoint burned"], wallMs: 1_700_000_200_000)
            _ = try await ServerSyncClient(store: alice, link: RouterLink(client: client, token: aliceToken)).run()
            _ = try await ServerSyncClient(store: forger, link: RouterLink(client: client, token: bobToken)).run()

            let r = try await client.executeRequest(uri: "/v1/incidents/\(id)", method: .get, headers: bearer(analyst), body: nil)
            #expect(r.status == .ok)
            let json = try responseJSON(r)
            let history = json["history"]?.arrayValue ?? []
            #expect(history.count == 3)
            for entry in history {
                let expected = entry["replica"]?.stringValue == forger.replica.hex ? "bob" : "alice"
                #expect(entry["reporter"]?.stringValue == expected, "\(entry)")
            }
            #expect(history.contains { $0["reporter"]?.stringValue == "bob" })
            let siblings = json["conflicts"]?.arrayValue?.first?["siblings"]?.arrayValue ?? []
            #expect(siblings.count == 2)
            for sibling in siblings {
                let expected = sibling["replica"]?.stringValue == forger.replica.hex ? "bob" : "alice"
                #expect(sibling["reporter"]?.stringValue == expected, "\(sibling)")
            }

            // A replica never bound to a token (its change reached the store another way).
            let stranger = try Store.create(at: fixture.directory + "/stranger", reporter: "alice")
            let strange = try stranger.create(fields: ["title": "Unbound"])
            let strangeID = strange.record.id
            _ = try fixture.store.applyRemote([strange])
            let s = try await client.executeRequest(
                uri: "/v1/incidents/\(strangeID)", method: .get, headers: bearer(analyst), body: nil)
            #expect(s.status == .ok)
            let entries = try responseJSON(s)["history"]?.arrayValue ?? []
            #expect(entries.count == 1)
            #expect(entries.first?["reporter"] == .null)
            #expect(entries.first?["author"] == .null)
            #expect(entries.first?["verified"] == .null, "its author is unknown: not verified")
            #expect(entries.first?["delivered_by"] == .null)
        }
        #expect(
            try fixture.backend.enrolledReporters(of: [forger.replica, alice.replica, fixture.store.replica]) == [
                forger.replica: "bob", alice.replica: "alice", fixture.store.replica: "server",
            ])
    }
}
