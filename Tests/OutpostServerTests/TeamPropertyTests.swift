import Foundation
import Hummingbird
import HummingbirdTesting
import OutpostCore
import OutpostServer
import OutpostSync
import Testing

@testable import OutpostStore

/// Issue 14's property: with random teams, random incidents (some restricted), random syncs
/// through the server, device-to-device syncs, bundles and analysts' moves, no device ever holds a
/// record it may not read, and in the end every record reaches the server and every device of its
/// team that may read it.
@Suite struct TeamPropertyTests {
    /// One reporter's device.
    final class Device: @unchecked Sendable {
        // @unchecked Sendable: used by one test task at a time, never concurrently.
        let name: String
        let team: String
        let store: Store
        let token: String
        /// The step of this device's last server sync (-1: never since the start).
        var lastServerSync = -1

        init(name: String, team: String, store: Store, token: String) {
            self.name = name
            self.team = team
            self.store = store
            self.token = token
        }
    }

    /// What the test knows of a record: who made it, its team now, and since which step.
    struct Known {
        var creator: String
        var team: String
        var restricted: Bool
        var movedAt: Int?
    }

    /// The records a device holds in any form but a sealed parcel: a row, or any change of it
    /// (applied, held back, or kept as evidence of a reused dot).
    static func held(_ store: Store) throws -> Set<String> {
        var ids = Set<String>()
        try store.db.prepare("SELECT id FROM records UNION SELECT record FROM changes").forEach { ids.insert($0.text(0) ?? "") }
        return ids
    }

    static func readable(_ known: Known, by device: Device) -> Bool {
        known.team == device.team && (!known.restricted || known.creator == device.name)
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6])
    func noDeviceEverHoldsARecordItMayNotRead(seed: UInt64) async throws {
        let fixture = try ServerFixture()
        var setup = SplitMix64(seed: seed)
        let teams = ["Kidal", "Gao", "Mopti"]
        var enrolled: [Device] = []
        for i in 0..<6 {
            // Two of each team at least in spirit: the first three cover every team.
            let team = i < 3 ? teams[i] : teams[Int(setup.next() % 3)]
            let name = "r\(i)"
            let store = try fixture.replica(name)
            let token = try fixture.backend.enroll(reporter: name, role: .reporter, device: nil, teams: [team])
            enrolled.append(Device(name: name, team: team, store: store, token: token))
        }
        let devices = enrolled
        let desk = try fixture.backend.enroll(reporter: "desk", role: .analyst, device: nil, teams: [])

        try await fixture.test { client in
            var rng = SplitMix64(seed: seed &* 7919)
            var known: [String: Known] = [:]
            func serverSync(_ d: Device, step: Int) async throws {
                _ = try await ServerSyncClient(store: d.store, link: RouterLink(client: client, token: d.token), token: d.token)
                    .run()
                d.lastServerSync = step
                // The server now knows of the author's restrictions made since its last sync.
                for (id, k) in known where k.creator == d.name && k.movedAt == Int.max { known[id]!.movedAt = step }
            }
            func check(_ step: Int, _ what: String) throws {
                for d in devices {
                    for id in try Self.held(d.store) {
                        guard let k = known[id] else {
                            Issue.record("step \(step) (\(what)): \(d.name) holds \(id), which nobody made")
                            continue
                        }
                        if Self.readable(k, by: d) { continue }
                        // A device that has not met the server since a move may still hold the record.
                        if let moved = k.movedAt, d.lastServerSync < moved { continue }
                        Issue.record(
                            "step \(step) (\(what)): \(d.name) (team \(d.team)) holds \(id) of \(k.creator), team \(k.team)\(k.restricted ? ", restricted" : "")"
                        )
                    }
                }
            }

            for d in devices { try await serverSync(d, step: 0) }
            for step in 1...120 {
                let roll = Int(rng.next() % 12)
                let a = devices[Int(rng.next() % UInt64(devices.count))]
                var b = devices[Int(rng.next() % UInt64(devices.count))]
                if b === a { b = devices[(devices.firstIndex { $0 === a }! + 1) % devices.count] }
                let what: String
                switch roll {
                case 0...3:
                    let restricted = rng.next() % 4 == 0
                    let change = try a.store.create(fields: [
                        "title": .string("step \(step) by \(a.name)"), "narrative": .string("seen by \(a.name)"),
                        "sensitivity": .string(restricted ? "restricted" : "normal"),
                    ])
                    known[change.record.id] = Known(creator: a.name, team: a.team, restricted: restricted)
                    what = "\(a.name) creates \(change.record.id)\(restricted ? " (restricted)" : "")"
                case 4:
                    let mine = try a.store.incidents().map(\.id).sorted()
                    guard !mine.isEmpty else { continue }
                    let id = mine[Int(rng.next() % UInt64(mine.count))]
                    if known[id]?.creator == a.name && rng.next() % 3 == 0 {
                        // The author restricts the report, or lifts the restriction: teammates holding it
                        // may keep it until they meet the server after the server learns of it.
                        let restricted = !known[id]!.restricted
                        _ = try a.store.update(
                            id: id, fields: ["sensitivity": .string(restricted ? "restricted" : "normal")])
                        known[id]!.restricted = restricted
                        known[id]!.movedAt = Int.max  // until the author's next server sync
                        what = "\(a.name) \(restricted ? "restricts" : "lifts the restriction of") \(id)"
                    } else {
                        _ = try a.store.update(id: id, fields: ["title": .string("edited at \(step) by \(a.name)")])
                        what = "\(a.name) edits \(id)"
                    }
                case 5, 6:
                    try await serverSync(a, step: step)
                    what = "\(a.name) syncs with the server"
                case 7:
                    _ = try await SyncSession().run(StoreTransport(store: a.store), StoreTransport(store: b.store))
                    what = "\(a.name) and \(b.name) sync device to device"
                case 8, 9:
                    let forPeer = roll == 8
                    let file: [UInt8]
                    if forPeer {
                        let signed = try BundleFile.decodeSummary(try b.store.summaryFile())
                        file = try a.store.bundle(forSigned: signed).file
                    } else {
                        file = try a.store.bundle().file
                    }
                    _ = try b.store.applyBundle(file)
                    what = "\(a.name) bundles \(forPeer ? "for" : "blind to") \(b.name)"
                default:
                    // An analyst moves a record the server holds to another team.
                    let onServer = try Self.held(fixture.store).filter { known[$0] != nil }.sorted()
                    guard !onServer.isEmpty else { continue }
                    let id = onServer[Int(rng.next() % UInt64(onServer.count))]
                    let team = teams[Int(rng.next() % 3)]
                    guard team != known[id]!.team else { continue }
                    let response = try await client.executeRequest(
                        uri: "/v1/incidents/\(id)/move", method: .post,
                        headers: bearer(desk, [.contentType: "application/json"]),
                        body: ByteBuffer(string: "{\"team\":\"\(team)\"}"))
                    #expect(response.status == .ok, "move \(id): \(String(buffer: response.body))")
                    known[id]!.team = team
                    known[id]!.movedAt = step
                    what = "the analyst moves \(id) to \(team)"
                }
                // OUTPOST_TRACE=1 prints every step, to follow a failing seed.
                if ProcessInfo.processInfo.environment["OUTPOST_TRACE"] != nil { print("TRACE \(seed) \(step): \(what)") }
                try check(step, what)
            }

            // Everyone meets the server twice: parcels go, pulls and notices arrive.
            for round in 0..<2 { for d in devices { try await serverSync(d, step: 1000 + round) } }
            try check(2000, "after the last syncs")
            let onServer = Set(try fixture.store.incidents(includeDeleted: true).map(\.id))
            #expect(onServer == Set(known.keys), "the server lacks \(Set(known.keys).subtracting(onServer).sorted())")
            for d in devices {
                let expected = Set(known.filter { Self.readable($0.value, by: d) }.keys)
                let has = Set(try d.store.incidents(includeDeleted: true).map(\.id))
                #expect(
                    has == expected,
                    "\(d.name) (team \(d.team)) lacks \(expected.subtracting(has).sorted()), holds \(has.subtracting(expected).sorted()) too many"
                )
            }
        }
    }
}
