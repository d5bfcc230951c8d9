import Crypto
import Foundation
import OutpostCore
import OutpostStore
import Testing

@testable import OutpostSync

/// Sealed parcels (issue 14): only the server's parcel key opens one; a carrier can neither read
/// nor alter what is inside.
@Suite struct ParcelTests {
    /// Signed changes of one author, each with `canary` in its narrative.
    static func changes(_ count: Int, canary: String) throws -> [Change] {
        let dir = temporaryPath("parcel")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir, reporter: "bob")
        for i in 0..<count { _ = try store.create(fields: ["title": .string("t\(i)"), "narrative": .string(canary)]) }
        return try store.changes(missingFrom: SyncSummary(), limit: Int.max, maxBytes: Int.max).changes.map { try $0.change() }
    }

    @Test func theServerKeyOpensWhatWasSealedAndNothingShowsInTheClear() throws {
        let canary = "PARCEL_CANARY_" + UUID().uuidString
        let sent = try Self.changes(5, canary: canary)
        let server = Curve25519.KeyAgreement.PrivateKey()
        let parcel = try Parcel.seal(changeBodies: sent.map { $0.encodedJSON() }, to: Array(server.publicKey.rawRepresentation))
        #expect(Data(parcel).range(of: Data(canary.utf8)) == nil)
        #expect(Data(sent[0].encodedJSON()).range(of: Data(canary.utf8)) != nil)  // control: the plain change shows it
        #expect(Parcel.recipientKey(of: parcel) == Array(server.publicKey.rawRepresentation))
        let opened = try Parcel.open(parcel, with: server)
        #expect(opened == sent)
        #expect(opened.allSatisfy { $0.sig != nil })
    }

    @Test func anyFlippedByteOrAnotherKeyOpensNothing() throws {
        let sent = try Self.changes(2, canary: "x")
        let server = Curve25519.KeyAgreement.PrivateKey()
        let parcel = try Parcel.seal(changeBodies: sent.map { $0.encodedJSON() }, to: Array(server.publicKey.rawRepresentation))
        #expect(try Parcel.open(parcel, with: server).count == 2)  // control
        for offset in [0, 17, 17 + 31, 17 + 32, 17 + 34, 17 + 40, parcel.count / 2, parcel.count - 1] {
            var tampered = parcel
            tampered[offset] ^= 0x01
            #expect(throws: ParcelError.self) { try Parcel.open(tampered, with: server) }
        }
        #expect(throws: ParcelError.self) { try Parcel.open(parcel, with: Curve25519.KeyAgreement.PrivateKey()) }
        #expect(throws: ParcelError.self) { try Parcel.open(Array(parcel.prefix(60)), with: server) }
    }

    @Test func manyChangesGoIntoSeveralParcels() throws {
        let sent = try Self.changes(5, canary: "x")
        let server = Curve25519.KeyAgreement.PrivateKey()
        let parcels = try Parcel.seal(
            changeBodies: sent.map { $0.encodedJSON() }, to: Array(server.publicKey.rawRepresentation), perParcel: 2)
        #expect(parcels.count == 3)
        #expect(try parcels.flatMap { try Parcel.open($0, with: server) } == sent)
        #expect(throws: ParcelError.self) {
            try Parcel.seal(changeBodies: [], to: Array(server.publicKey.rawRepresentation))
        }
    }

    @Test func aDeviceTakesOnlyAParcelKeyItsRosterKeyVouchesFor() throws {
        let dir = temporaryPath("parcel")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir, reporter: "alice")
        let rosterKey = DeviceKey()
        let parcelKey = Array(Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation)
        let vouched = rosterKey.signature(for: Store.parcelKeyStatement(parcelKey))
        // Before the roster key is pinned, nothing can be checked.
        #expect(throws: StoreError.self) { try store.pinParcelKey(parcelKey, signature: vouched) }
        try store.pinRosterKey(rosterKey.publicKey)
        let forged = DeviceKey().signature(for: Store.parcelKeyStatement(parcelKey))
        #expect(throws: StoreError.self) { try store.pinParcelKey(parcelKey, signature: forged) }
        #expect(try store.parcelKey() == nil)
        try store.pinParcelKey(parcelKey, signature: vouched)
        #expect(try store.parcelKey()?.key == parcelKey)
        // Another key, even vouched for, does not replace the pinned one.
        let other = Array(Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation)
        #expect(throws: StoreError.self) {
            try store.pinParcelKey(other, signature: rosterKey.signature(for: Store.parcelKeyStatement(other)))
        }
    }

    @Test func aCarrierHoldsParcelsOnceAndOnlyForThePinnedKey() throws {
        let dir = temporaryPath("parcel")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir, reporter: "alice")
        let rosterKey = DeviceKey()
        let server = Curve25519.KeyAgreement.PrivateKey()
        let parcelKey = Array(server.publicKey.rawRepresentation)
        try store.pinRosterKey(rosterKey.publicKey)
        try store.pinParcelKey(parcelKey, signature: rosterKey.signature(for: Store.parcelKeyStatement(parcelKey)))
        let parcel = try Parcel.seal(changeBodies: try Self.changes(1, canary: "x").map { $0.encodedJSON() }, to: parcelKey)
        #expect(try store.holdParcel(parcel))
        #expect(try !store.holdParcel(parcel))
        #expect(try store.parcelStats().count == 1)
        #expect(try store.parcelStats().bytes == Int64(parcel.count))
        let stranger = try Parcel.seal(
            changeBodies: try Self.changes(1, canary: "x").map { $0.encodedJSON() },
            to: Array(Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation))
        #expect(throws: StoreError.self) { try store.holdParcel(stranger) }
        #expect(throws: StoreError.self) { try store.holdParcel(Array("not a parcel at all, just some bytes here".utf8)) }
        let held = try store.heldParcels()
        #expect(held.map(\.bytes) == [parcel])
        try store.dropParcel(hash: held[0].hash)
        #expect(try store.parcelStats().count == 0)
    }
}
