import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OutpostCore
import OutpostServer
import OutpostStore
import OutpostSync
import Testing

@Suite struct SyncTests {
    @Test func healthAnswers200WithServerTime() async throws {
        let fixture = try ServerFixture()
        try await fixture.test { client in
            let response = try await client.executeRequest(uri: "/healthz", method: .get, headers: [:], body: nil)
            #expect(response.status == .ok)
            #expect(try responseJSON(response)["status"] == "ok")
            let time = try #require(response.headers[.outpostServerTime].flatMap { Int64($0) })
            #expect(abs(time - Int64(Date().timeIntervalSince1970 * 1000)) < 60_000)
            #expect(response.headers[.date] != nil)
        }
    }

    @Test func enrollStoresHashAndRevokeEndsTokens() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.replica("alice")
        let token = try fixture.token("alice", for: alice)
        #expect(token.utf8.count == 43)
        let rows = try fixture.backend.tokenRows()
        #expect(rows.count == 1)
        #expect(rows[0].hash == Array(SHA256.hash(data: Array(token.utf8))))
        #expect(rows[0].reporter == "alice" && rows[0].role == "reporter" && !rows[0].revoked)
        // The token itself is nowhere in the database file.
        for suffix in ["", "-wal"] {
            let file = (try? Data(contentsOf: URL(fileURLWithPath: fixture.configuration.databasePath + suffix))) ?? Data()
            #expect(file.range(of: Data(token.utf8)) == nil)
        }

        try alice.create(fields: ["title": "Checkpoint closed"])
        try await fixture.test { client in
            let report = try await ServerSyncClient(store: alice, link: RouterLink(client: client, token: token)).run()
            #expect(report.sent == 1)
            #expect(try fixture.backend.revoke(reporter: "alice") == 1)
            #expect(try fixture.backend.tokenRows()[0].revoked)
            #expect(try fixture.store.signedRosterEntry(of: alice.replica)?.status == .revoked)
            let request = ServerSyncRequest(replica: alice.replica, reporter: "alice", changes: [], pullAfter: 0)
            let response = try await postSync(client, token: token, body: request.encoded())
            #expect(response.status == .unauthorized)
            #expect(errorCode(response) == "unauthorized")
            #expect(response.headers[.wwwAuthenticate] != nil)
            // A new enrolment of the same reporter on the same device works again.
            let again = try fixture.token("alice", for: alice)
            #expect(try fixture.store.signedRosterEntry(of: alice.replica)?.status == .active)
            try alice.create(fields: ["title": "Checkpoint reopened"])
            #expect(try await ServerSyncClient(store: alice, link: RouterLink(client: client, token: again)).run().sent == 1)
        }
        #expect(throws: ServerCommandError.self) { try fixture.backend.revoke(reporter: "nobody") }
    }

    @Test func missingOrUnknownTokenIs401() async throws {
        let fixture = try ServerFixture()
        let body = ServerSyncRequest(replica: .random(), reporter: nil, changes: [], pullAfter: 0).encoded()
        try await fixture.test { client in
            for headers: HTTPFields in [
                [:], [.authorization: "Bearer nope-not-a-real-token-at-all-000000000"], [.authorization: "Basic abc"],
                [.authorization: "Bearer "],
            ] {
                let r = try await client.executeRequest(
                    uri: "/v1/sync", method: .post, headers: headers, body: ByteBuffer(bytes: body))
                #expect(r.status == .unauthorized)
                #expect(errorCode(r) == "unauthorized")
                #expect(r.headers[.outpostServerTime] != nil)
            }
        }
    }

    @Test func roundTripBetweenTwoReporters() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.replica("alice")
        let aliceToken = try fixture.token("alice", for: alice)
        let bob = try fixture.replica("bob")
        let bobToken = try fixture.token("bob", for: bob)
        for i in 0..<3 {
            try alice.create(fields: ["title": .string("Alice \(i)"), "event_type": "protest", "killed": .int(Int64(i))])
        }
        for i in 0..<2 { try bob.create(fields: ["title": .string("Bob \(i)"), "event_type": "riot"]) }
        try await fixture.test { client in
            let a = ServerSyncClient(store: alice, link: RouterLink(client: client, token: aliceToken))
            let b = ServerSyncClient(store: bob, link: RouterLink(client: client, token: bobToken, gzip: false))
            let r1 = try await a.run()
            #expect(r1.sent == 3 && r1.received == 0)
            let r2 = try await b.run()
            #expect(r2.sent == 2 && r2.received == 3)
            let r3 = try await a.run()
            #expect(r3.sent == 0 && r3.received == 2)
            // Idempotent: nothing more either way.
            let r4 = try await b.run()
            #expect(r4.sent == 0 && r4.received == 0)
        }
        #expect(try alice.incidents().count == 5)
        #expect(try bob.incidents().count == 5)
        #expect(try fixture.store.incidents().count == 5)
        #expect(Set(try alice.incidents().map(\.fields)) == Set(try fixture.store.incidents().map(\.fields)))
        #expect(try fixture.store.contiguousCounter(of: alice.replica) == 3)
    }

    @Test func batchingWithTinyLimitsReportsMore() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.replica("alice")
        let aliceToken = try fixture.token("alice", for: alice)
        let bob = try fixture.replica("bob")
        let bobToken = try fixture.token("bob", for: bob)
        for i in 0..<7 { try alice.create(fields: ["title": .string("Incident \(i)")]) }
        try await fixture.test { client in
            let push = try await ServerSyncClient(
                store: alice, link: RouterLink(client: client, token: aliceToken), pushLimit: 2, pullLimit: 2
            ).run()
            #expect(push.sent == 7)
            #expect(push.batches >= 4)
            // One raw batch pulling 3 of 7: more = true, cursor in between.
            let request = ServerSyncRequest(replica: bob.replica, reporter: "bob", changes: [], pullAfter: 0, pullLimit: 3)
            let first = try await postSync(client, token: bobToken, body: request.encoded())
            let decoded = try ServerSyncResponse.decode(try responseJSON(first))
            #expect(decoded.changes.count == 3)
            #expect(decoded.more)
            #expect(decoded.cursor == 3)
            let pull = try await ServerSyncClient(store: bob, link: RouterLink(client: client, token: bobToken), pullLimit: 2)
                .run()
            #expect(pull.received == 7)
            #expect(pull.batches == 4)
            let last = ServerSyncRequest(replica: bob.replica, reporter: "bob", changes: [], pullAfter: 6, pullLimit: 3)
            let end = try ServerSyncResponse.decode(
                try responseJSON(try await postSync(client, token: bobToken, body: last.encoded())))
            #expect(end.changes.count == 1 && !end.more && end.cursor == 7)
        }
        #expect(try bob.incidents().count == 7)
    }

    @Test func gzipBothWays() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.replica("alice")
        let token = try fixture.token("alice", for: alice)
        let changes = try (0..<50).map { i in
            try alice.create(fields: ["title": .string("Gzip \(i)"), "narrative": .string("long text \(i) ")])
        }
        let request = ServerSyncRequest(replica: alice.replica, reporter: "alice", changes: changes, pullAfter: 0)
        let compressed = try Gzip.compress(request.encoded())
        #expect(compressed.count < request.encoded().count)
        try await fixture.test { client in
            let r = try await postSync(
                client, token: token, body: compressed, headers: [.contentEncoding: "gzip", .acceptEncoding: "gzip, deflate"])
            #expect(r.status == .ok)
            #expect(r.headers[.contentEncoding] == "gzip")
            #expect(Gzip.isGzip(Array(r.body.readableBytesView)))
            let decoded = try ServerSyncResponse.decode(try responseJSON(r))
            #expect(decoded.ackedCounter == 50 && decoded.applied == 50)
            // Without Accept-Encoding (or with q=0) the answer is identity.
            let plain = try await postSync(client, token: token, body: request.encoded(), headers: [.acceptEncoding: "gzip;q=0"])
            #expect(plain.headers[.contentEncoding] == nil)
            let again = try ServerSyncResponse.decode(try JSONParser.parse(Array(plain.body.readableBytesView)))
            #expect(again.duplicates == 50 && again.ackedCounter == 50)
        }
    }

    /// Relay replaces the old "forged author" rule: a change of another replica is taken only
    /// when it verifies against the roster. A replica nobody enrolled gets 422 `unknown_author`
    /// and nothing of the batch is stored; the sender's own change alone still goes through.
    @Test func anUnenrolledAuthorsChangeIsRefusedAndNothingStored() async throws {
        let fixture = try ServerFixture()
        let mallory = try fixture.replica("mallory")
        let token = try fixture.token("mallory", for: mallory)
        let victim = try fixture.replica("victim")
        let own = try mallory.create(fields: ["title": "Mine"])
        let forged = try victim.create(fields: ["title": "Not mine"])
        try await fixture.test { client in
            let request = ServerSyncRequest(replica: mallory.replica, reporter: "mallory", changes: [own, forged], pullAfter: 0)
            let r = try await postSync(client, token: token, body: request.encoded())
            #expect(r.status == .unprocessableContent)
            #expect(errorCode(r) == "unknown_author")
            #expect(errorMessage(r).contains(forged.dot.description))
            #expect(try fixture.store.lastSeq() == 0)
            let ok = try await postSync(
                client, token: token,
                body: ServerSyncRequest(
                    replica: mallory.replica, reporter: "mallory", changes: [own], pullAfter: 0
                ).encoded())
            #expect(ok.status == .ok)
        }
        #expect(try fixture.store.incidents().map(\.id) == [own.record.id])
    }

    @Test func tokenIsBoundToTheReplicaOfItsFirstSync() async throws {
        let fixture = try ServerFixture()
        let eveToken = try fixture.token("eve")
        let alice = try fixture.replica("alice")
        let aliceToken = try fixture.token("alice", for: alice)
        let other = try fixture.replica("alice-laptop")
        let change = try alice.create(fields: ["title": "First"])
        let otherChange = try other.create(fields: ["title": "Second device"])
        try await fixture.test { client in
            let first = try await postSync(
                client, token: aliceToken,
                body: ServerSyncRequest(replica: alice.replica, reporter: "alice", changes: [change], pullAfter: 0).encoded())
            #expect(first.status == .ok)
            let seqBefore = try fixture.store.lastSeq()
            // Same token, other replica: refused, nothing stored.
            let moved = try await postSync(
                client, token: aliceToken,
                body: ServerSyncRequest(replica: other.replica, reporter: "alice", changes: [otherChange], pullAfter: 0).encoded()
            )
            #expect(moved.status == .forbidden)
            #expect(errorCode(moved) == "replica_mismatch")
            // Another reporter's fresh token cannot take alice's replica (it lacks her key).
            let hijack = try await postSync(
                client, token: eveToken,
                body: ServerSyncRequest(replica: alice.replica, reporter: "eve", changes: [], pullAfter: 0).encoded())
            #expect(hijack.status == .forbidden)
            #expect(errorCode(hijack) == "bad_binding")
            // Nor the server's own replica.
            let server = try await postSync(
                client, token: eveToken,
                body: ServerSyncRequest(replica: fixture.store.replica, reporter: "eve", changes: [], pullAfter: 0).encoded())
            #expect(server.status == .forbidden)
            #expect(try fixture.store.lastSeq() == seqBefore)
            // With the other device's key proved, the token moves to it (a device restored from an
            // older copy continues under a new replica with the same token).
            let proof = binding(of: other, token: aliceToken)
            var proved = ServerSyncRequest(replica: other.replica, reporter: "alice", changes: [otherChange], pullAfter: 0)
            (proved.key, proved.bind) = (proof.key, proof.bind)
            let movedWithKey = try await postSync(client, token: aliceToken, body: proved.encoded())
            #expect(movedWithKey.status == .ok, "\(errorMessage(movedWithKey))")
            #expect(try fixture.store.signedRosterEntry(of: other.replica)?.reporter == "alice")
        }
    }

    @Test func analystTokenMayNotSyncAndReporterMayNotRead() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("ana", .analyst)
        let reporter = try fixture.token("rep")
        try await fixture.test { client in
            let r = try await postSync(
                client, token: analyst,
                body: ServerSyncRequest(replica: .random(), reporter: nil, changes: [], pullAfter: 0).encoded())
            #expect(r.status == .forbidden && errorCode(r) == "forbidden")
            for uri in ["/v1/incidents", "/v1/incidents/some-id"] {
                let read = try await client.executeRequest(uri: uri, method: .get, headers: bearer(reporter), body: nil)
                #expect(read.status == .forbidden)
                #expect(errorCode(read) == "forbidden")
                let anonymous = try await client.executeRequest(uri: uri, method: .get, headers: [:], body: nil)
                #expect(anonymous.status == .unauthorized)
            }
        }
    }
}

@Suite struct BulkSyncTests {
    /// 5000 incidents up from one reporter and down to another, in batches of 1000, through the router.
    @Test func bulkSyncThroughTheRouter() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.replica("alice")
        let aliceToken = try fixture.token("alice", for: alice)
        let bob = try fixture.replica("bob")
        let bobToken = try fixture.token("bob", for: bob)
        let count = 5000
        _ = try alice.importIncidents(
            (0..<count).map { i in
                IncidentInput(fields: [
                    "title": .string("Bulk \(i)"), "event_type": "protest", "lat": .double(12 + Double(i % 100) / 100),
                    "lon": -8, "narrative": .string(String(repeating: "words ", count: 20)),
                ])
            })
        try await fixture.test { client in
            let start = ContinuousClock.now
            let up = try await ServerSyncClient(
                store: alice, link: RouterLink(client: client, token: aliceToken), pushLimit: 1000, pullLimit: 1000
            ).run()
            let pushed = ContinuousClock.now
            let down = try await ServerSyncClient(
                store: bob, link: RouterLink(client: client, token: bobToken), pushLimit: 1000, pullLimit: 1000
            ).run()
            let pulled = ContinuousClock.now
            #expect(up.sent == count && down.received == count)
            #expect(up.batches >= 5 && down.batches >= 5)
            func rate(_ d: Duration) -> Int {
                Int(Double(count) / (Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18))
            }
            print(
                "bulk sync: push \(rate(pushed - start)) changes/s, pull \(rate(pulled - pushed)) changes/s (gzip, both stores on this machine)"
            )
        }
        #expect(try bob.incidents().count == count)
        #expect(try fixture.store.lastSeq() == Int64(count))
    }
}
