import Foundation
import HummingbirdTesting
import OutpostCore
import OutpostServer
import OutpostStore
import OutpostSync
import Testing

/// A link that passes everything through `inner` but gives each sync answer another parcel key:
/// `key` with `signature` (a server that changed its parcel key, or an impostor's).
private struct SwappedParcelKeyLink: ServerLink {
    let inner: RouterLink
    let key: [UInt8]
    let signature: [UInt8]

    func exchange(_ request: ServerSyncRequest) async throws -> ServerSyncResponse {
        var response = try await inner.exchange(request)
        response.parcelKey = key
        response.parcelKeySignature = signature
        return response
    }

    func sendParcel(_ parcel: [UInt8]) async throws -> ParcelReceipt { try await inner.sendParcel(parcel) }
}

/// The device's side of sealed parcels in a server sync (issue 14): the parcel key pinned from the
/// first answer, held parcels forwarded after the batches and dropped once taken.
@Suite struct ParcelForwardTests {
    /// Alice's store carrying one parcel of Bob's (signed) changes, and her token.
    private func carrier(_ fixture: ServerFixture, sealedTo key: [UInt8]? = nil) throws -> (
        alice: Store, token: String, bob: TestDevice, parcel: [UInt8]
    ) {
        let alice = try fixture.replica("alice")
        let token = try fixture.token("alice", for: alice)
        let bob = try fixture.device("bob")
        let change = bob.change(1, id: "B1", writes: ["title": "Convoy ambushed", "killed": 3])
        let parcel = try Parcel.seal(
            changeBodies: [change.encodedJSON()], to: try key ?? fixture.backend.vouchedParcelKey().key)
        #expect(try alice.holdParcel(parcel))
        return (alice, token, bob, parcel)
    }

    /// At sync, the parcel goes to the server (which applies Bob's change, delivered by Alice) and
    /// is dropped from Alice's store; her store pins the server's parcel key.
    @Test func aHeldParcelIsForwardedAtSyncAndDropped() async throws {
        let fixture = try ServerFixture()
        let (alice, token, bob, parcel) = try carrier(fixture)
        let own = try alice.create(fields: ["title": "Checkpoint closed"])
        #expect(try alice.parcelStats().count == 1)
        let report = try await fixture.test { client in
            try await ServerSyncClient(store: alice, link: RouterLink(client: client, token: token), token: token).run()
        }
        #expect(report.parcelsForwarded == 1)
        #expect(report.parcelsKept == 0 && report.parcelWarnings.isEmpty)
        #expect(report.sent == 1)
        #expect(try alice.parcelStats().count == 0)
        #expect(try alice.heldParcels().isEmpty)
        #expect(try fixture.store.incident(id: "B1")?.fields["killed"] == .int(3))
        #expect(try fixture.store.incident(id: own.record.id) != nil)
        #expect(try fixture.store.wasParcelOpened(hash: Parcel.hash(parcel)))
        let provenance = try fixture.store.provenance(of: [Dot(replica: bob.replica, counter: 1)])
        let deliverer = try #require(try await fixture.backend.authenticate(token: token)?.tokenID)
        #expect(provenance.values.first?.deliveredBy == deliverer)
        #expect(provenance.values.first?.verified == true)
        #expect(try alice.parcelKey()?.key == (try fixture.backend.vouchedParcelKey().key))
    }

    /// A parcel the server refuses (sealed to another server's key) stays on the device with a
    /// warning, and does not hold up the one behind it, which goes.
    @Test func aParcelTheServerRefusesIsKept() async throws {
        let fixture = try ServerFixture()
        let other = try ServerFixture()
        let (alice, token, bob, good) = try carrier(fixture)
        let stray = try Parcel.seal(
            changeBodies: [bob.change(2, id: "B2", writes: ["title": "Stray"]).encodedJSON()],
            to: try other.backend.vouchedParcelKey().key)
        #expect(try alice.holdParcel(stray))
        let report = try await fixture.test { client in
            try await ServerSyncClient(store: alice, link: RouterLink(client: client, token: token), token: token).run()
        }
        #expect(report.parcelsForwarded == 1)
        #expect(report.parcelsKept == 1)
        #expect(report.parcelWarnings.count == 1)
        #expect(report.parcelWarnings.first?.contains("bad_parcel") == true, "\(report.parcelWarnings)")
        #expect(try alice.heldParcels().map(\.bytes) == [stray])
        #expect(try fixture.store.wasParcelOpened(hash: Parcel.hash(good)))
        #expect(try fixture.store.incident(id: "B2") == nil)
    }

    /// A link that cannot carry parcels (the protocol's default) keeps every parcel, and the
    /// sync itself succeeds.
    @Test func aLinkWithoutParcelsKeepsThem() async throws {
        struct SyncOnly: ServerLink {
            let inner: RouterLink
            func exchange(_ request: ServerSyncRequest) async throws -> ServerSyncResponse { try await inner.exchange(request) }
        }
        let fixture = try ServerFixture()
        let (alice, token, _, parcel) = try carrier(fixture)
        let report = try await fixture.test { client in
            try await ServerSyncClient(
                store: alice, link: SyncOnly(inner: RouterLink(client: client, token: token)), token: token
            )
            .run()
        }
        #expect(report.parcelsForwarded == 0 && report.parcelsKept == 1)
        #expect(report.parcelWarnings.first?.contains("cannot carry sealed parcels") == true)
        #expect(try alice.heldParcels().map(\.bytes) == [parcel])
        #expect(!(try fixture.store.wasParcelOpened(hash: Parcel.hash(parcel))))
    }

    /// The first sync pins the server's parcel key; a later answer with another key, even one the
    /// roster key signed, fails the sync (a state error, as a roster-key mismatch) and leaves the
    /// pinned key; so does a key the roster key did not sign, on a device that pinned none yet.
    @Test func theParcelKeyIsPinnedOnceAndAnotherIsRefused() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.replica("alice")
        let token = try fixture.token("alice", for: alice)
        let vouch = try fixture.backend.vouchedParcelKey()
        let otherKey = try ServerFixture().backend.vouchedParcelKey().key
        let signedByRoster = fixture.backend.rosterKey.signature(for: Store.parcelKeyStatement(otherKey))
        #expect(try alice.parcelKey() == nil)
        try await fixture.test { client in
            let link = RouterLink(client: client, token: token)
            _ = try await ServerSyncClient(store: alice, link: link, token: token).run()
            #expect(try alice.parcelKey()?.key == vouch.key)
            #expect(try alice.parcelKey()?.signature == vouch.signature)

            let swapped = SwappedParcelKeyLink(inner: link, key: otherKey, signature: signedByRoster)
            let error = await #expect(throws: StoreError.self) {
                _ = try await ServerSyncClient(store: alice, link: swapped, token: token).run()
            }
            #expect(error?.kind == .invalidState)
            #expect(error?.message.contains("not the one this device pinned") == true, "\(String(describing: error))")
            #expect(try alice.parcelKey()?.key == vouch.key)

            // A fresh device: a parcel key its pinned roster key did not sign is refused too.
            let carol = try fixture.replica("carol")
            let carolToken = try fixture.token("carol", for: carol)
            let forged = SwappedParcelKeyLink(
                inner: RouterLink(client: client, token: carolToken), key: otherKey,
                signature: DeviceKey().signature(for: Store.parcelKeyStatement(otherKey)))
            let unsigned = await #expect(throws: StoreError.self) {
                _ = try await ServerSyncClient(store: carol, link: forged, token: carolToken).run()
            }
            #expect(unsigned?.kind == .invalidState)
            #expect(unsigned?.message.contains("not signed by the roster key") == true, "\(String(describing: unsigned))")
            #expect(try carol.parcelKey() == nil)
        }
    }
}
