import Crypto
import Foundation
import OutpostCore
import Testing

@testable import OutpostStore
@testable import OutpostSync

/// Bundles and device-to-device syncs between teams (issue 14): a peer is given in the clear only
/// what it could pull from the server, the rest as parcels only the server opens.
@Suite struct TeamCarryTests {
    /// Devices enrolled by one server: a roster key signing each device's entry with its team,
    /// and the server's parcel key vouched for by the roster key.
    final class Enrolled {
        let rosterKey = DeviceKey()
        let serverParcelKey = Curve25519.KeyAgreement.PrivateKey()
        let root = temporaryPath("team-carry")
        var stores: [String: Store] = [:]

        init(_ members: [(name: String, team: String)], parcelKey: Bool = true) throws {
            var entries: [RosterEntry] = []
            for member in members {
                let store = try Store.create(at: root + "/" + member.name, reporter: member.name)
                stores[member.name] = store
                entries.append(
                    RosterEntry(
                        replica: store.replica, key: store.publicKey, reporter: member.name, team: member.team,
                        status: .active, version: 1
                    ).signed(by: rosterKey))
            }
            let key = Array(serverParcelKey.publicKey.rawRepresentation)
            let signature = rosterKey.signature(for: Store.parcelKeyStatement(key))
            for store in stores.values {
                try store.acceptRoster(entries, rosterKey: rosterKey.publicKey)
                if parcelKey { try store.pinParcelKey(key, signature: signature) }
            }
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        subscript(name: String) -> Store { stores[name]! }

        func directory(_ name: String) -> String { root + "/" + name }

        /// Every parcel `store` holds, opened with the server's key.
        func openParcels(of store: Store) throws -> [Change] {
            try store.heldParcels().flatMap { try Parcel.open($0.bytes, with: serverParcelKey) }
        }
    }

    static func canary() -> String { "OUTPOST_CANARY_" + UUID().uuidString.replacingOccurrences(of: "-", with: "") }

    /// Whether any file of a store folder holds `text`, once its WAL is cut back.
    static func storeHolds(_ text: String, _ store: Store, in directory: String) throws -> Bool {
        _ = try store.checkpointAndTruncate(waitMilliseconds: 5_000)
        return try FileManager.default.contentsOfDirectory(atPath: directory).contains { name in
            FileManager.default.contents(atPath: directory + "/" + name)?.range(of: Data(text.utf8)) != nil
        }
    }

    /// Whether every change verifies under `author`'s key.
    static func allVerify(_ changes: [Change], by author: Store) -> Bool {
        SignatureCheck.check(changes) { _ in author.publicKey }.allSatisfy { $0 == true }
    }

    @Test func bobsBundleForAliceOfAnotherTeamCarriesHisWorkSealed() throws {
        let net = try Enrolled([("bob", "Kidal"), ("alice", "Gao")])
        let canary = Self.canary()
        let bob = net["bob"]
        let alice = net["alice"]
        _ = try bob.create(fields: ["title": "road block", "narrative": .string("seen by \(canary)")])
        _ = try bob.create(fields: ["title": "witness", "narrative": .string("said \(canary)"), "sensitivity": "restricted"])
        let bobsChanges = try bob.changes(missingFrom: SyncSummary(), limit: Int.max, maxBytes: Int.max).changes

        let summary = try BundleFile.decodeSummary(try alice.summaryFile())
        #expect(summary.signature != nil && summary.replica == alice.replica)
        let bundle = try bob.bundle(forSigned: summary)
        #expect(bundle.count == 0 && bundle.parcels == 1 && bundle.sealed == 2 && bundle.leftOut == 0)
        // Nothing of Bob's narrative is in the bundle's clear part.
        let inflated = try Gzip.decompress(bundle.file, maxOutput: 1 << 24)
        #expect(Data(inflated).range(of: Data(canary.utf8)) == nil)

        let report = try alice.applyBundle(bundle.file)
        #expect(report.parcels == 1 && report.applied == 0)
        #expect(try alice.parcelStats().count == 1)
        #expect(try alice.incidents().isEmpty)
        #expect(try !Self.storeHolds(canary, alice, in: net.directory("alice")))
        // The server opens the parcel: Bob's changes, verifying under his key.
        let opened = try net.openParcels(of: alice)
        #expect(Set(opened.map(\.dot)) == Set(bobsChanges.map { Dot(replica: $0.replica, counter: $0.counter) }))
        #expect(Self.allVerify(opened, by: bob))
        #expect(opened.contains { $0.writes["narrative"] == .string("seen by \(canary)") })
    }

    @Test func control_aTeammatesBundleArrivesInTheClear() throws {
        let net = try Enrolled([("bob", "Kidal"), ("bea", "Kidal")])
        let canary = Self.canary()
        let bob = net["bob"]
        let bea = net["bea"]
        let open = try bob.create(fields: ["title": "road block", "narrative": .string("seen by \(canary)")]).record
        let hidden = try bob.create(fields: ["title": "witness", "sensitivity": "restricted"]).record
        let bundle = try bob.bundle(forSigned: try BundleFile.decodeSummary(try bea.summaryFile()))
        #expect(bundle.count == 1 && bundle.parcels == 1 && bundle.sealed == 1)
        let report = try bea.applyBundle(bundle.file)
        #expect(report.applied == 1 && report.parcels == 1)
        #expect(try bea.incident(id: open.id) != nil)
        #expect(try bea.incident(id: hidden.id) == nil)
        #expect(try Self.storeHolds(canary, bea, in: net.directory("bea")))
    }

    @Test func aBundleWithoutASummaryIsForATeammateAndAnotherTeamStillTakesNothing() throws {
        let net = try Enrolled([("bob", "Kidal"), ("bea", "Kidal"), ("alice", "Gao")])
        let canary = Self.canary()
        let bob = net["bob"]
        let open = try bob.create(fields: ["title": "open", "narrative": .string(canary)]).record
        _ = try bob.create(fields: ["title": "mine", "narrative": .string(canary), "sensitivity": "restricted"])
        let bundle = try bob.bundle(for: nil, reader: try bob.teammateReader())
        #expect(bundle.count == 1 && bundle.sealed == 1)
        #expect(try net["bea"].applyBundle(bundle.file).applied == 1)
        #expect(try net["bea"].incident(id: open.id) != nil)
        // Alice (Gao) is handed it anyway: her device applies none of it and seals it for the server.
        let report = try net["alice"].applyBundle(bundle.file)
        #expect(report.applied == 0 && report.withheld == 1 && report.sealedForServer == 1 && report.parcels == 1)
        #expect(try net["alice"].parcelStats().count == 2)
        #expect(try !Self.storeHolds(canary, net["alice"], in: net.directory("alice")))
        #expect(Self.allVerify(try net.openParcels(of: net["alice"]), by: bob))
    }

    @Test func aSummaryWithAForgedSignatureGetsEverythingSealed() throws {
        let net = try Enrolled([("bob", "Kidal"), ("bea", "Kidal")])
        let bob = net["bob"]
        let bea = net["bea"]
        _ = try bob.create(fields: ["title": "open"])
        _ = try bob.create(fields: ["title": "second"])
        // Control: Bea's own signed summary gets both in the clear.
        #expect(try bob.bundle(forSigned: try BundleFile.decodeSummary(try bea.summaryFile())).count == 2)
        // A summary claiming Bea's replica and key, with a signature that is not hers.
        let forged = try BundleFile.encode(
            summary: try bea.summary(), replica: bea.replica, reporter: "bea", createdMs: 0, key: bea.publicKey,
            sign: { _ in DeviceKey().signature(for: [1, 2, 3]) })
        let sealed = try bob.bundle(forSigned: try BundleFile.decodeSummary(forged))
        #expect(sealed.count == 0 && sealed.sealed == 2)
        // Signed validly, but by a key the roster does not give Bea's replica.
        let impostor = DeviceKey()
        let wrongKey = try BundleFile.encode(
            summary: try bea.summary(), replica: bea.replica, reporter: "bea", createdMs: 0, key: impostor.publicKey,
            sign: { impostor.signature(for: Store.summaryStatement($0)) })
        #expect(try bob.bundle(forSigned: try BundleFile.decodeSummary(wrongKey)).count == 0)
        // An unsigned (version 1) summary is still read, and gets nothing in the clear.
        let unsigned = try BundleFile.encode(summary: try bea.summary(), replica: bea.replica, reporter: "bea", createdMs: 0)
        let decoded = try BundleFile.decodeSummary(unsigned)
        #expect(decoded.signature == nil)
        #expect(try bob.bundle(forSigned: decoded).count == 0)
        guard case .summary = try BundleFile.decode(unsigned) else { throw BundleError("not a summary") }
    }

    @Test func withoutAParcelKeyWhatThePeerMayNotReadIsLeftOutAndCounted() throws {
        let net = try Enrolled([("bob", "Kidal"), ("alice", "Gao")], parcelKey: false)
        _ = try net["bob"].create(fields: ["title": "open"])
        let bundle = try net["bob"].bundle(forSigned: try BundleFile.decodeSummary(try net["alice"].summaryFile()))
        #expect(bundle.count == 0 && bundle.parcels == 0 && bundle.leftOut == 1)
        #expect(try BundleFile.decodeChanges(bundle.file).parcels.isEmpty)
    }

    @Test func aBundleCarriesTheParcelKeyAndTheReceiverPinsItOnlyWhenTheRosterKeyVouches() throws {
        let net = try Enrolled([("bob", "Kidal"), ("alice", "Gao")])
        _ = try net["bob"].create(fields: ["title": "open"])
        let bundle = try net["bob"].bundle(forSigned: try BundleFile.decodeSummary(try net["alice"].summaryFile()))
        let decoded = try BundleFile.decodeChanges(bundle.file)
        #expect(decoded.parcelKey?.key == Array(net.serverParcelKey.publicKey.rawRepresentation))
        // A device of the same server that has not pinned the parcel key yet pins it from the bundle.
        let dir = net.root + "/carol"
        let carol = try Store.create(at: dir, reporter: "carol")
        try carol.acceptRoster(
            [
                RosterEntry(
                    replica: carol.replica, key: carol.publicKey, reporter: "carol", team: "Gao", status: .active, version: 1
                ).signed(by: net.rosterKey)
            ], rosterKey: net.rosterKey.publicKey)
        #expect(try carol.parcelKey() == nil)
        #expect(try carol.applyBundle(bundle.file).parcels == 1)
        #expect(try carol.parcelKey()?.key == decoded.parcelKey?.key)
        // One of another server (another roster key) pins nothing and holds nothing.
        let other = try Store.create(at: net.root + "/other", reporter: "dan")
        try other.acceptRoster([], rosterKey: DeviceKey().publicKey)
        #expect(try other.applyBundle(bundle.file).parcels == 0)
        #expect(try other.parcelKey() == nil && other.parcelStats().count == 0)
    }

    @Test func deviceToDeviceSyncGivesEachOnlyWhatItMayRead() async throws {
        let net = try Enrolled([("bob", "Kidal"), ("alice", "Gao")])
        let bobCanary = Self.canary()
        let aliceCanary = Self.canary()
        _ = try net["bob"].create(fields: ["title": "kidal", "narrative": .string(bobCanary)])
        _ = try net["alice"].create(fields: ["title": "gao", "narrative": .string(aliceCanary)])
        let report = try await SyncSession().run(StoreTransport(store: net["alice"]), StoreTransport(store: net["bob"]))
        #expect(report.received == 0 && report.sent == 0)
        #expect(report.local.sealedForServer == 1 && report.remote.sealedForServer == 1)
        #expect(try net["alice"].parcelStats().count == 1 && net["bob"].parcelStats().count == 1)
        #expect(try !Self.storeHolds(bobCanary, net["alice"], in: net.directory("alice")))
        #expect(try !Self.storeHolds(aliceCanary, net["bob"], in: net.directory("bob")))
        #expect(Self.allVerify(try net.openParcels(of: net["alice"]), by: net["bob"]))
        #expect(Self.allVerify(try net.openParcels(of: net["bob"]), by: net["alice"]))
    }

    @Test func control_deviceToDeviceSyncInOneTeamGivesEverything() async throws {
        let net = try Enrolled([("bob", "Kidal"), ("bea", "Kidal")])
        let canary = Self.canary()
        _ = try net["bob"].create(fields: ["title": "kidal", "narrative": .string(canary)])
        let report = try await SyncSession().run(StoreTransport(store: net["bea"]), StoreTransport(store: net["bob"]))
        #expect(report.received == 1 && report.local.sealedForServer == 0)
        #expect(try net["bea"].parcelStats().count == 0)
        #expect(try Self.storeHolds(canary, net["bea"], in: net.directory("bea")))
    }

    /// A record moved away while this device holds its own edit the server lacks: the edit goes
    /// to the server sealed, and the record is forgotten.
    @Test func ownWorkOnAForgottenRecordGoesToTheServerSealed() throws {
        let net = try Enrolled([("bob", "Kidal"), ("bea", "Kidal")])
        let bea = net["bea"]
        let record = try net["bob"].create(fields: ["title": "shared"]).record
        _ = try bea.applyRemote(
            try net["bob"].changes(missingFrom: SyncSummary(), limit: 10, maxBytes: 1 << 20).changes.map {
                try $0.change()
            })
        let canary = Self.canary()
        let edit = try bea.update(id: record.id, fields: ["narrative": .string(canary)])
        try bea.applyAccessNotices(
            [AccessNotice(record: record, team: "Gao", restricted: false, readable: false)], sealer: Store.parcelSealer)
        #expect(try bea.incident(id: record.id) == nil)
        #expect(try !Self.storeHolds(canary, bea, in: net.directory("bea")))
        let opened = try net.openParcels(of: bea)
        #expect(opened.map(\.dot) == [edit.dot])
        #expect(Self.allVerify(opened, by: bea))
    }

    /// A far side does not choose whom it is read as: its replica is looked up in the sender's roster.
    @Test func aPeerThatLiesAboutItsTeamIsJudgedByTheRoster() throws {
        let net = try Enrolled([("bob", "Kidal"), ("bea", "Kidal"), ("alice", "Gao")])
        _ = try net["bob"].create(fields: ["title": "kidal"])
        let changes = try net["bob"].changes(missingFrom: SyncSummary(), limit: 10, maxBytes: 1 << 20).changes.map {
            try $0.change()
        }
        let bea = try #require(try net["bob"].reader(of: net["bea"].replica))
        #expect(try net["bob"].outgoing(changes, for: bea).clear.count == 1)  // control
        let claimsKidal = PeerReader(replica: net["alice"].replica, reporter: "alice", team: "Kidal")
        #expect(try net["bob"].outgoing(changes, for: claimsKidal).sealed == 1)
        #expect(try net["bob"].outgoing(changes, for: .teammate(in: "Kidal")).sealed == 1)
        #expect(try net["bob"].outgoing(changes, for: nil).sealed == 1)
    }

    @Test func aVersionOneBundleIsStillRead() throws {
        let net = try Enrolled([("bob", "Kidal"), ("bea", "Kidal")])
        _ = try net["bob"].create(fields: ["title": "old"])
        let stored = try net["bob"].changes(missingFrom: SyncSummary(), limit: Int.max, maxBytes: Int.max).changes
        let file = try BundleFile.encode(changes: stored, replica: net["bob"].replica, reporter: "bob", createdMs: 0)
        let header = try JSONParser.parse(Array(try Gzip.decompress(file, maxOutput: 1 << 20).split(separator: 0x0A)[0]))
        #expect(header["version"] == .int(1))
        #expect(try net["bea"].applyBundle(file).applied == 1)
    }
}

/// A server that answers every sync with the access notices after the request's `access_after`
/// (up to `cursor`), and records what each request asked.
final class NoticeLink: ServerLink, @unchecked Sendable {
    // @unchecked Sendable: `asked` is only touched under `lock`.
    let rosterKey: [UInt8]
    let notices: [AccessNotice]
    let cursor: Int64
    private let lock = NSLock()
    private var asked: [Int64?] = []

    init(rosterKey: [UInt8], notices: [AccessNotice], cursor: Int64) {
        self.rosterKey = rosterKey
        self.notices = notices
        self.cursor = cursor
    }

    /// The `access_after` of every request so far (nil: the request did not pull).
    var accessAfters: [Int64?] { lock.withLock { asked } }

    func exchange(_ request: ServerSyncRequest) async throws -> ServerSyncResponse {
        lock.withLock { asked.append(request.pullLimit > 0 ? request.accessAfter : nil) }
        let owed = request.pullLimit > 0 && (request.accessAfter ?? 0) < cursor
        return ServerSyncResponse(
            serverTimeMs: 1_700_000_000_000, ackedCounter: 0, applied: request.changeCount, duplicates: 0, heldBack: 0,
            changes: [], cursor: request.pullAfter, more: false, rosterKey: rosterKey,
            summary: request.wantsSummary ? SyncSummary() : nil, access: owed ? notices : [],
            accessCursor: request.pullLimit > 0 ? cursor : nil)
    }
}

/// Access notices at server sync (issue 14): the device sends `access_after`, applies the
/// notices before the answer's changes and keeps the cursor for the next sync.
@Suite struct AccessNoticeSyncTests {
    @Test func aSyncAppliesTheNoticesAndAsksAfterTheirCursorNextTime() async throws {
        let net = try TeamCarryTests.Enrolled([("bob", "Kidal"), ("bea", "Kidal")])
        let bea = net["bea"]
        let moved = try net["bob"].create(fields: ["title": "moved away"]).record
        let stays = try net["bob"].create(fields: ["title": "stays"]).record
        _ = try await SyncSession().send(from: StoreTransport(store: net["bob"]), to: StoreTransport(store: bea))
        #expect(try bea.incident(id: moved.id) != nil)  // control: she held it
        let link = NoticeLink(
            rosterKey: net.rosterKey.publicKey,
            notices: [AccessNotice(record: moved, team: "Gao", restricted: false, readable: false)], cursor: 7)
        _ = try await ServerSyncClient(store: bea, link: link).run()
        #expect(try bea.incident(id: moved.id) == nil && bea.history(id: moved.id).isEmpty)
        #expect(try bea.incident(id: stays.id) != nil)
        #expect(try bea.integerSetting(ServerSyncClient.accessAfterKey) == 7)
        #expect(link.accessAfters.first == 0)
        let again = NoticeLink(rosterKey: net.rosterKey.publicKey, notices: [], cursor: 7)
        _ = try await ServerSyncClient(store: bea, link: again).run()
        #expect(again.accessAfters.compactMap { $0 }.allSatisfy { $0 == 7 } && again.accessAfters.first == 7)
        // Bob's stale copy, handed over again by a peer, is not taken back.
        let report = try await SyncSession().send(from: StoreTransport(store: net["bob"]), to: StoreTransport(store: bea))
        #expect(report.report.applied == 0)
        #expect(try bea.incident(id: moved.id) == nil)
    }
}
