import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OutpostCore
import OutpostServer
import OutpostStore
import OutpostSync
import Testing

/// Posts a sync request with `token`.
private func push(_ client: any TestClientProtocol, _ token: String, _ request: ServerSyncRequest) async throws -> TestResponse {
    try await postSync(client, token: token, body: request.encoded())
}

/// A decoded 200 answer (records an issue otherwise).
private func answer(_ response: TestResponse, _ comment: Comment? = nil) throws -> ServerSyncResponse {
    #expect(response.status == .ok, "\(response.status) \(errorMessage(response)) \(comment?.description ?? "")")
    return try ServerSyncResponse.decode(try responseJSON(response))
}

/// Issue 12 on the server: relay of signed changes, verification, binding by key, the roster,
/// and pull positions that a restored server does not hold.
@Suite struct TrustTests {
    /// Bob's signed changes, carried by Alice's device (Bob never reaches the server), are
    /// accepted, attributed to Bob, verified, and delivered by Alice; they are relayed to every
    /// other device and back to Alice, and Alice's own acknowledgement is unaffected.
    @Test func relayedChangesAreAcceptedAndAttributed() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.replica("alice")
        let bob = try fixture.replica("bob")
        let aliceToken = try fixture.token("alice", for: alice)
        _ = try fixture.token("bob", for: bob)
        let carol = try fixture.device("carol")
        let analyst = try fixture.token("desk", .analyst)
        let first = try bob.create(fields: ["title": "Well poisoned", "killed": 2])
        let second = try bob.update(id: first.record.id, fields: ["injured": 4])
        let own = try alice.create(fields: ["title": "Checkpoint closed"])
        try await fixture.test { client in
            let relay = ServerSyncRequest(
                replica: alice.replica, reporter: "alice", changes: [own, first, second], pullAfter: 0, rosterAfter: 0)
            let response = try answer(try await push(client, aliceToken, relay))
            #expect(response.applied == 3)
            #expect(response.ackedCounter == 1, "acked_counter is Alice's own counter")
            // Pulls exclude only Alice's own changes: Bob's relayed ones come back too.
            #expect(Set(response.changes.map(\.dot)) == [first.dot, second.dot])
            let pulled = try answer(try await push(client, carol.token, carol.request([])))
            #expect(Set(pulled.changes.map(\.dot)) == [own.dot, first.dot, second.dot])
            #expect(pulled.changes.allSatisfy { $0.sig != nil })

            let detail = try await client.executeRequest(
                uri: "/v1/incidents/\(first.record.id)", method: .get, headers: bearer(analyst), body: nil)
            #expect(detail.status == .ok)
            let history = try responseJSON(detail)["history"]?.arrayValue ?? []
            #expect(history.count == 2)
            for entry in history {
                #expect(entry["replica"]?.stringValue == bob.replica.hex)
                #expect(entry["author"]?.stringValue == "bob", "\(entry)")
                #expect(entry["reporter"]?.stringValue == "bob", "\(entry)")
                #expect(entry["verified"] == .bool(true), "\(entry)")
                #expect(entry["delivered_by"]?.stringValue == "alice", "\(entry)")
            }
        }
        #expect(try fixture.store.incident(id: first.record.id)?.fields["injured"] == .int(4))
    }

    /// One byte altered in a relayed change refuses the whole batch with 422 `bad_signature`
    /// naming the dot; nothing of it is stored, and a security event names the delivering token.
    /// The same batch unaltered is accepted (the positive control).
    @Test func aTamperedByteRefusesTheBatch() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.device("alice")
        let bob = try fixture.device("bob")
        let good = alice.change(1, id: "A1", writes: ["title": "Convoy stopped"])
        let bobs = bob.change(1, id: "B1", writes: ["title": "Market fire", "killed": 3])
        let body = alice.request([good, bobs]).encoded()
        let text = String(decoding: body, as: UTF8.self)
        let tampered = Array(text.replacingOccurrences(of: "Market fire", with: "Market firE").utf8)
        #expect(tampered.count == body.count && tampered != body)
        let tokenID = try #require(try await fixture.backend.authenticate(token: alice.token)?.tokenID)
        try await fixture.test { client in
            let refused = try await postSync(client, token: alice.token, body: tampered)
            #expect(refused.status == .unprocessableContent)
            #expect(errorCode(refused) == "bad_signature")
            #expect(errorMessage(refused).contains("\(bob.replica.hex):1"), "\(errorMessage(refused))")
            #expect(try fixture.store.lastSeq() == 0, "nothing of the refused batch is stored")
            let events = try fixture.store.securityEvents()
            #expect(events.count == 1)
            #expect(events.first?.kind == "bad_signature")
            #expect(events.first?.token == tokenID)
            #expect(events.first?.detail.contains("\(bob.replica.hex):1") == true)

            let accepted = try answer(try await postSync(client, token: alice.token, body: body))
            #expect(accepted.applied == 2)
        }
        #expect(try fixture.store.incident(id: "B1")?.fields["title"] == "Market fire")
        #expect(try fixture.store.securityEvents().count == 1)
    }

    /// A change whose author the roster does not name, and an unsigned change, refuse the batch.
    @Test func unknownAuthorsAndUnsignedChangesAreRefused() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.device("alice")
        let stranger = TestDevice(key: DeviceKey(), token: "", reporter: "stranger")
        var stripped = alice.change(2, id: "A2", writes: ["title": "Unsigned"])
        stripped.sig = nil
        let unsigned = stripped
        try await fixture.test { client in
            let unknown = try await push(
                client, alice.token,
                alice.request([
                    alice.change(1, id: "A1", writes: ["title": "Fine"]), stranger.change(1, id: "S1", writes: ["title": "Who?"]),
                ]))
            #expect(unknown.status == .unprocessableContent)
            #expect(errorCode(unknown) == "unknown_author")
            #expect(errorMessage(unknown).contains("\(stranger.replica.hex):1"))
            let bare = try await push(client, alice.token, alice.request([unsigned]))
            #expect(bare.status == .unprocessableContent)
            #expect(errorCode(bare) == "unsigned_change")
            #expect(errorMessage(bare).contains("\(alice.replica.hex):2"))
            #expect(try fixture.store.lastSeq() == 0)
            #expect(try fixture.store.securityEvents().map(\.kind) == ["unknown_author", "unsigned_change"])
        }
    }

    /// After `revoke`, the roster says revoked (a higher version), the server refuses the
    /// revoked device's new changes even when another device carries them, and a change it
    /// already held is still only a duplicate.
    @Test func aRevokedAuthorsNewChangesAreRefused() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.device("alice")
        let bob = try fixture.device("bob")
        let held = bob.change(1, id: "B1", writes: ["title": "Before"])
        try await fixture.test { client in
            _ = try answer(try await push(client, bob.token, bob.request([held])))
            let before = try #require(try fixture.store.signedRosterEntry(of: bob.replica))
            #expect(try fixture.backend.revoke(reporter: "bob") == 1)
            let after = try #require(try fixture.store.signedRosterEntry(of: bob.replica))
            #expect(after.status == .revoked && after.version > before.version)
            #expect(after.isValid(rosterPublicKey: fixture.backend.rosterKey.publicKey))

            let late = try await push(
                client, alice.token, alice.request([bob.change(2, id: "B1", deps: [bob.replica: 1], writes: ["title": "After"])]))
            #expect(late.status == .unprocessableContent)
            #expect(errorCode(late) == "revoked_author")
            #expect(errorMessage(late).contains("\(bob.replica.hex):2"))
            let again = try answer(try await push(client, alice.token, alice.request([held])))
            #expect(again.duplicates == 1)
            // Devices learn the revocation with their next sync.
            let roster = try answer(
                try await push(
                    client, alice.token,
                    ServerSyncRequest(
                        replica: alice.replica, reporter: "alice", changes: [], pullAfter: 0, rosterAfter: before.version)))
            #expect(roster.roster.contains { $0.replica == bob.replica && $0.status == .revoked })
        }
        #expect(try fixture.store.incident(id: "B1")?.fields["title"] == "Before")
    }

    /// A replica ID seen elsewhere (a bundle header, the roster) cannot be bound without its key:
    /// no key, another key, a copied public key without its signature, or a binding signature
    /// made for another token are all refused; the owner's own first sync then binds it.
    @Test func squattingAReplicaIsRefused() async throws {
        let fixture = try ServerFixture()
        let owner = DeviceKey()
        let ownerToken = try fixture.token("alice")
        let malloryToken = try fixture.token("mallory")
        let mallory = DeviceKey()
        let replica = owner.replicaID
        @Sendable func request(key: [UInt8]?, bind: [UInt8]?) -> ServerSyncRequest {
            ServerSyncRequest(replica: replica, reporter: "alice", changes: [], pullAfter: 0, key: key, bind: bind)
        }
        let attempts: [(String, ServerSyncRequest, String)] = [
            ("no key", request(key: nil, bind: nil), "bad_binding"),
            (
                "her own key",
                request(key: mallory.publicKey, bind: binding(mallory, replica: replica, token: malloryToken).bind),
                "replica_key_mismatch"
            ),
            (
                "the owner's public key, signed by her",
                request(key: owner.publicKey, bind: binding(mallory, replica: replica, token: malloryToken).bind),
                "bad_binding"
            ),
            ("the owner's key without a signature", request(key: owner.publicKey, bind: nil), "bad_binding"),
            (
                "the owner's binding for his own token",
                request(key: owner.publicKey, bind: binding(owner, token: ownerToken).bind), "bad_binding"
            ),
        ]
        try await fixture.test { client in
            for (name, attempt, code) in attempts {
                let response = try await push(client, malloryToken, attempt)
                #expect(response.status == .forbidden, "\(name)")
                #expect(errorCode(response) == code, "\(name): \(errorMessage(response))")
            }
            #expect(try fixture.store.roster().allSatisfy { $0.replica != replica })
            #expect(try await fixture.backend.authenticate(token: malloryToken)?.replica == nil)
            // The owner binds it with his key.
            let proof = binding(owner, token: ownerToken)
            let bound = try answer(try await push(client, ownerToken, request(key: proof.key, bind: proof.bind)))
            #expect(bound.rosterKey == fixture.backend.rosterKey.publicKey)
            let entry = try #require(bound.roster.first { $0.replica == replica })
            #expect(entry.reporter == "alice" && entry.status == .active && entry.key == owner.publicKey)
            #expect(entry.isValid(rosterPublicKey: fixture.backend.rosterKey.publicKey))
            // Even a valid proof (the owner's key signing for Mallory's token) cannot move the
            // replica to another reporter.
            let taken = try await push(
                client, malloryToken, request(key: owner.publicKey, bind: binding(owner, token: malloryToken).bind))
            #expect(taken.status == .forbidden)
            #expect(errorCode(taken) == "replica_taken")
        }
        #expect(try await fixture.backend.authenticate(token: ownerToken)?.replica == replica)
    }

    /// `outpost-server enroll --replica ID --key KEY` registers a device that never synced; its
    /// first sync then works without sending its key, and pins the printed roster key.
    @Test func enrolledByKeyThenFirstSyncWorks() async throws {
        let fixture = try ServerFixture()
        let field = try fixture.replica("bob")
        let id = try field.create(fields: ["title": "Bridge down"]).record.id
        let enrolled = try ServerCommands.enroll(
            databasePath: fixture.configuration.databasePath, reporter: "bob", role: .reporter,
            device: (field.replica, field.publicKey))
        #expect(enrolled.rosterKey == fixture.backend.rosterKey.publicKey)
        let entry = try #require(try fixture.store.signedRosterEntry(of: field.replica))
        #expect(entry.reporter == "bob" && entry.status == .active)
        #expect(try await fixture.backend.authenticate(token: enrolled.token)?.replica == field.replica)
        // A key that does not give the replica, or a replica of another reporter, is refused.
        #expect(throws: ServerCommandError.self) {
            _ = try fixture.backend.enroll(reporter: "bob", device: (ReplicaID.random(), field.publicKey))
        }
        #expect(throws: ServerCommandError.self) {
            _ = try fixture.backend.enroll(reporter: "mallory", device: (field.replica, field.publicKey))
        }
        let analyst = try fixture.token("desk", .analyst)
        try await fixture.test { client in
            let report = try await ServerSyncClient(store: field, link: RouterLink(client: client, token: enrolled.token)).run()
            #expect(report.sent == 1)
            let roster = try await client.executeRequest(uri: "/v1/roster", method: .get, headers: bearer(analyst), body: nil)
            #expect(roster.status == .ok)
            let json = try responseJSON(roster)
            #expect(json["roster_key"]?.stringValue == Base64URL.encode(enrolled.rosterKey))
            let entries = try (json["roster"]?.arrayValue ?? []).map { try RosterEntry(json: $0) }
            #expect(entries.map(\.replica) == [field.replica])
            #expect(entries.allSatisfy { $0.isValid(rosterPublicKey: enrolled.rosterKey) })
            let reporterAsks = try await client.executeRequest(
                uri: "/v1/roster", method: .get, headers: bearer(enrolled.token), body: nil)
            #expect(reporterAsks.status == .forbidden)
        }
        #expect(try fixture.store.incident(id: id) != nil)
    }

    /// The answer carries the roster entries newer than `roster_after`, and the server's summary
    /// when asked for.
    @Test func answersCarryTheRosterAndTheSummary() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.device("alice")
        let bob = try fixture.device("bob")
        try await fixture.test { client in
            let all = try answer(
                try await push(client, alice.token, alice.request([alice.change(1, id: "A", writes: ["title": "A"])])))
            #expect(Set(all.roster.map(\.replica)) == [alice.replica, bob.replica])
            #expect(all.summary == nil)
            let top = all.roster.map(\.version).max() ?? 0
            var asking = alice.request([])
            asking.rosterAfter = top
            asking.wantsSummary = true
            let newer = try answer(try await push(client, alice.token, asking))
            #expect(newer.roster.isEmpty)
            #expect(newer.summary == SyncSummary(entries: [alice.replica: .init(contiguous: 1)]))
        }
    }

    /// A server whose database goes back to an older copy: a device's pull position past its log
    /// end, or naming another change than the one now at that position, is answered from 0 with
    /// `cursor_reset`; a position that matches is honoured.
    @Test func aRestoredServerResetsStalePullPositions() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.device("alice")
        let bob = try fixture.device("bob")
        let carol = try fixture.device("carol")
        let backup = fixture.directory + "/backup.db"
        let carolCursor = try await fixture.test { client -> (Int64, Dot?) in
            _ = try answer(
                try await push(client, alice.token, alice.request([alice.change(1, id: "A1", writes: ["title": "A1"])])))
            let copier = try Database(path: fixture.configuration.databasePath, create: false)
            try copier.execute("VACUUM INTO '\(backup)'")
            _ = try answer(
                try await push(
                    client, alice.token,
                    alice.request((2...3).map { alice.change(UInt64($0), id: "A\($0)", writes: ["title": .string("A\($0)")]) })))
            let pulled = try answer(try await push(client, carol.token, carol.request([])))
            #expect(pulled.changes.count == 3)
            #expect(pulled.cursorDot == Dot(replica: alice.replica, counter: 3))
            #expect(!pulled.cursorReset)
            // A matching position is honoured.
            var again = carol.request([], pullAfter: pulled.cursor)
            again.pullAfterDot = pulled.cursorDot
            let nothing = try answer(try await push(client, carol.token, again))
            #expect(nothing.changes.isEmpty && !nothing.cursorReset)
            return (pulled.cursor, pulled.cursorDot)
        }

        // The server is restored from the copy made after Alice's first change.
        let restored = try ServerFixture(seedDatabase: backup)
        try await restored.test { client in
            var stale = carol.request([], pullAfter: carolCursor.0)
            stale.pullAfterDot = carolCursor.1
            let past = try answer(try await push(client, carol.token, stale))
            #expect(past.cursorReset, "a position past the log's end")
            #expect(past.changes.map(\.dot) == [Dot(replica: alice.replica, counter: 1)])
            // Bob's new work fills the positions Carol's cursor names, with other changes.
            _ = try answer(
                try await push(
                    client, bob.token,
                    bob.request((1...4).map { bob.change(UInt64($0), id: "B\($0)", writes: ["title": .string("B\($0)")]) })))
            let mismatched = try answer(try await push(client, carol.token, stale))
            #expect(mismatched.cursorReset, "another change at the position")
            #expect(mismatched.changes.count == 5)
            // Once back in step, the new position matches again.
            var fresh = carol.request([], pullAfter: mismatched.cursor)
            fresh.pullAfterDot = mismatched.cursorDot
            #expect(!(try answer(try await push(client, carol.token, fresh))).cursorReset)
        }
    }
}
