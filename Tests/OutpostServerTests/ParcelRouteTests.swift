import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OutpostCore
import OutpostServer
import OutpostStore
import OutpostSync
import Testing

/// Posts one parcel to `/v1/parcels` with `token`.
private func postParcel(
    _ client: any TestClientProtocol, token: String, _ parcel: [UInt8], contentType: String = "application/octet-stream"
) async throws -> TestResponse {
    try await client.executeRequest(
        uri: "/v1/parcels", method: .post, headers: bearer(token, [.contentType: contentType]),
        body: ByteBuffer(bytes: parcel))
}

/// The receipt of a 200 answer (records an issue otherwise).
private func receipt(_ response: TestResponse) throws -> ParcelReceipt {
    #expect(response.status == .ok, "\(response.status) \(errorMessage(response))")
    return try ParcelReceipt(json: try responseJSON(response))
}

/// `POST /v1/parcels` (issue 14): a device hands in the sealed work of others; the server opens
/// it, verifies every change, applies them once, and refuses what does not open or verify.
@Suite struct ParcelRouteTests {
    /// The server's parcel key, as devices pin it.
    private func parcelKey(_ fixture: ServerFixture) throws -> [UInt8] { try fixture.backend.vouchedParcelKey().key }

    /// Bob's changes sealed to `key`.
    private func seal(_ changes: [Change], to key: [UInt8]) throws -> [UInt8] {
        try Parcel.seal(changeBodies: changes.map { $0.encodedJSON() }, to: key)
    }

    /// Every sync answer carries the parcel key and the roster key's signature over it; the key
    /// stays the same across answers and reopenings of the database.
    @Test func syncAnswersCarryTheVouchedParcelKey() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.device("alice")
        let vouch = try fixture.backend.vouchedParcelKey()
        try await fixture.test { client in
            for _ in 0..<2 {
                let response = try await postSync(client, token: alice.token, body: alice.request([]).encoded())
                #expect(response.status == .ok)
                let answer = try ServerSyncResponse.decode(try responseJSON(response))
                #expect(answer.parcelKey == vouch.key)
                #expect(answer.parcelKeySignature == vouch.signature)
                let rosterKey = try #require(answer.rosterKey)
                #expect(
                    SignatureCheck.isValid(
                        try #require(answer.parcelKeySignature), of: Store.parcelKeyStatement(vouch.key), publicKey: rosterKey))
            }
        }
        #expect(try SQLiteBackend(databasePath: fixture.configuration.databasePath).vouchedParcelKey() == vouch)
    }

    /// Bob's signed changes, sealed and carried by Alice, are applied and attributed to Bob,
    /// verified, delivered by Alice's token. The same parcel again is a duplicate and changes
    /// nothing.
    @Test func aParcelIsAppliedOnceAndAttributedToItsAuthor() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.device("alice")
        let bob = try fixture.device("bob")
        let analyst = try fixture.token("desk", .analyst)
        let first = bob.change(1, id: "B1", writes: ["title": "Well poisoned", "killed": 2])
        let second = bob.change(2, id: "B1", deps: [bob.replica: 1], writes: ["injured": 4])
        let parcel = try seal([first, second], to: try parcelKey(fixture))
        try await fixture.test { client in
            let taken = try receipt(try await postParcel(client, token: alice.token, parcel))
            #expect(taken.status == .applied)
            #expect(taken.parcel == Parcel.hash(parcel))
            #expect(taken.changes == 2 && taken.applied == 2 && taken.duplicates == 0 && taken.heldBack == 0)

            let detail = try await client.executeRequest(
                uri: "/v1/incidents/B1", method: .get, headers: bearer(analyst), body: nil)
            #expect(detail.status == .ok)
            let history = try responseJSON(detail)["history"]?.arrayValue ?? []
            #expect(history.count == 2)
            for entry in history {
                #expect(entry["author"]?.stringValue == "bob", "\(entry)")
                #expect(entry["verified"] == .bool(true), "\(entry)")
                #expect(entry["delivered_by"]?.stringValue == "alice", "\(entry)")
            }
            let logEnd = try fixture.store.lastSeq()
            #expect(logEnd == 2)

            let again = try receipt(try await postParcel(client, token: alice.token, parcel))
            #expect(again.status == .duplicate)
            #expect(again.parcel == Parcel.hash(parcel))
            #expect(again.changes == 0 && again.applied == 0)
            #expect(try fixture.store.lastSeq() == logEnd, "a duplicate parcel stores nothing")
        }
        #expect(try fixture.store.incident(id: "B1")?.fields["injured"] == .int(4))
        #expect(try fixture.store.wasParcelOpened(hash: Parcel.hash(parcel)))
        #expect(try fixture.store.securityEvents().isEmpty)
    }

    /// One flipped byte anywhere in a parcel (its header, its sealed payload, its last byte)
    /// refuses it: 400 `bad_parcel`, a security event naming Alice's token, nothing stored and
    /// the parcel not recorded as opened. The untouched parcel then applies (the control).
    @Test func aFlippedByteRefusesTheParcel() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.device("alice")
        let bob = try fixture.device("bob")
        let parcel = try seal([bob.change(1, id: "B1", writes: ["title": "Market fire"])], to: try parcelKey(fixture))
        let tokenID = try #require(try await fixture.backend.authenticate(token: alice.token)?.tokenID)
        let positions = [Parcel.magic.count + 5, Parcel.magic.count + 40, Parcel.magic.count + 34 + 32 + 5, parcel.count - 1]
        try await fixture.test { client in
            for (i, position) in positions.enumerated() {
                var flipped = parcel
                flipped[position] ^= 0x01
                let refused = try await postParcel(client, token: alice.token, flipped)
                #expect(refused.status == .badRequest, "byte \(position)")
                #expect(errorCode(refused) == "bad_parcel")
                #expect(try fixture.store.lastSeq() == 0, "nothing of a refused parcel is stored")
                let events = try fixture.store.securityEvents()
                #expect(events.count == i + 1)
                #expect(events.last?.kind == "bad_parcel")
                #expect(events.last?.token == tokenID)
                #expect(!(try fixture.store.wasParcelOpened(hash: Parcel.hash(flipped))))
            }
            let taken = try receipt(try await postParcel(client, token: alice.token, parcel))
            #expect(taken.status == .applied && taken.applied == 1)
        }
        #expect(try fixture.store.incident(id: "B1")?.fields["title"] == "Market fire")
        #expect(try fixture.store.securityEvents().count == positions.count)
    }

    /// A parcel holding a change in Bob's name signed by another key opens, but the forged change
    /// refuses it whole (422 `bad_signature`): Bob's genuine change beside it is not applied, the
    /// parcel is not recorded as opened, and a security event names the token.
    @Test func aForgedChangeInsideRefusesTheParcel() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.device("alice")
        let bob = try fixture.device("bob")
        let genuine = bob.change(1, id: "B1", writes: ["title": "Bridge down"])
        let unsigned = Change(
            dot: Dot(replica: bob.replica, counter: 2), record: RecordKey(id: "B2"), deps: VersionVector([:]),
            tag: HLCTag(ms: 1_002, seq: 0), writes: ["title": "Planted story"], reporter: "bob")
        let forged = DeviceKey().signed(unsigned)
        #expect(forged.sig != nil)
        let parcel = try seal([genuine, forged], to: try parcelKey(fixture))
        try await fixture.test { client in
            let refused = try await postParcel(client, token: alice.token, parcel)
            #expect(refused.status == .unprocessableContent)
            #expect(errorCode(refused) == "bad_signature")
            #expect(errorMessage(refused).contains("\(bob.replica.hex):2"), "\(errorMessage(refused))")
            // The control: the genuine change alone applies.
            let control = try receipt(
                try await postParcel(client, token: alice.token, try seal([genuine], to: try parcelKey(fixture))))
            #expect(control.applied == 1)
        }
        #expect(try fixture.store.incident(id: "B2") == nil)
        #expect(try fixture.store.lastSeq() == 1)
        #expect(!(try fixture.store.wasParcelOpened(hash: Parcel.hash(parcel))))
        #expect(try fixture.store.securityEvents().map(\.kind) == ["bad_signature"])
    }

    /// A parcel sealed to another server's parcel key, and bytes that are no parcel, are 400
    /// `bad_parcel`, and nothing is stored.
    @Test func aParcelForAnotherKeyOrNoParcelIsRefused() async throws {
        let fixture = try ServerFixture()
        let other = try ServerFixture()
        let alice = try fixture.device("alice")
        let bob = try fixture.device("bob")
        let change = bob.change(1, id: "B1", writes: ["title": "Roadblock"])
        let elsewhere = try seal([change], to: try other.backend.vouchedParcelKey().key)
        try await fixture.test { client in
            let refused = try await postParcel(client, token: alice.token, elsewhere)
            #expect(refused.status == .badRequest)
            #expect(errorCode(refused) == "bad_parcel")
            #expect(errorMessage(refused).contains("another parcel key"), "\(errorMessage(refused))")
            let junk = try await postParcel(client, token: alice.token, Array(change.encodedJSON()))
            #expect(junk.status == .badRequest)
            #expect(errorCode(junk) == "bad_parcel")
            let empty = try await postParcel(client, token: alice.token, [])
            #expect(empty.status == .badRequest)
        }
        #expect(try fixture.store.lastSeq() == 0)
        #expect(try fixture.store.securityEvents().map(\.kind) == ["bad_parcel", "bad_parcel"])
    }

    /// Only tokens that may sync hand in parcels, as application/octet-stream.
    @Test func parcelsNeedASyncTokenAndTheirMediaType() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.device("alice")
        let bob = try fixture.device("bob")
        let analyst = try fixture.token("desk", .analyst)
        let parcel = try seal([bob.change(1, id: "B1", writes: ["title": "Roadblock"])], to: try parcelKey(fixture))
        try await fixture.test { client in
            #expect(try await postParcel(client, token: analyst, parcel).status == .forbidden)
            #expect(try await postParcel(client, token: "nope", parcel).status == .unauthorized)
            let json = try await postParcel(client, token: alice.token, parcel, contentType: "application/json")
            #expect(json.status == .unsupportedMediaType)
            let get = try await client.executeRequest(uri: "/v1/parcels", method: .get, headers: bearer(alice.token), body: nil)
            #expect(get.status == .methodNotAllowed)
        }
        #expect(try fixture.store.lastSeq() == 0)
    }
}
