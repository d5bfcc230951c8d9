import Foundation
import OutpostCore
import OutpostStore
import OutpostSync
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Issue 12 with real processes: relay through another reporter, tampering, squatting, forged own
/// changes, and devices and a server restored from older copies.
@Suite("trust end to end", .serialized)
struct TrustEndToEndTests {
    typealias World = EndToEndTests.World

    /// GET `path` on the server with `token`; the JSON answer.
    static func get(_ world: World, _ path: String, token: String) throws -> JSONValue {
        let (status, body) = httpGet(world.server.url + path, token: token)
        guard status == 200 else { throw HarnessError("GET \(path): \(status) \(String(decoding: body, as: UTF8.self))") }
        return try JSONParser.parse(Array(body))
    }

    /// The history entries of an incident as the analyst sees them.
    static func serverHistory(_ world: World, _ id: String) throws -> [JSONValue] {
        try get(world, "/v1/incidents/\(id)", token: world.tokens["desk"]!)["history"]?.arrayValue ?? []
    }

    /// Ids of every incident the analyst sees.
    static func serverIDs(_ world: World) throws -> Set<String> {
        let page = try get(world, "/v1/incidents?limit=1000", token: world.tokens["desk"]!)
        return Set((page["incidents"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue })
    }

    static func newIncident(_ world: World, _ name: String, _ title: String) throws -> String {
        try world.ok(name, ["new", "--title", title, "--narrative", "Seen by \(name): \(title)"])
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A bundle file with one byte of one change's title altered, sealed again so that only the
    /// signature can tell.
    static func tamper(bundle path: String, title: String, into out: String) throws {
        let bundle = try BundleFile.decodeChanges(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        let changes = bundle.changes
        var lines: [StoredChange] = []
        var altered = 0
        for (i, change) in changes.enumerated() {
            var body = change.encodedJSON()
            if change.writes["title"] == .string(title) {
                let needle = Array(title.utf8)
                if let at = (0...(body.count - needle.count)).first(where: { Array(body[$0..<($0 + needle.count)]) == needle }) {
                    body[at] ^= 0x01  // "R" → "S": one byte
                    altered += 1
                }
            }
            lines.append(StoredChange(seq: Int64(i + 1), replica: change.dot.replica, counter: change.dot.counter, body: body))
        }
        guard altered == 1 else { throw HarnessError("expected one change titled \(title), altered \(altered)") }
        let file = try BundleFile.encode(
            changes: lines, replica: ReplicaID.random(), reporter: "courier", createdMs: 0, roster: bundle.roster,
            rosterKey: bundle.rosterKey)
        _ = FileManager.default.createFile(atPath: out, contents: Data(file))
    }

    @Test func bobsWorkReachesTheAnalystThroughAliceAttributedToBobAndATamperedChangeIsRefused() throws {
        let world = try World(reporters: ["alice", "bob"])
        // Bob's one sync at the office enrolls his device's key; from then on he never reaches the server.
        try world.ok("bob", ["sync"])
        let first = try Self.newIncident(world, "bob", "Report one from Kidal")
        let second = try Self.newIncident(world, "bob", "Report two from Kidal")
        let bundle = world.folder.sub("bob.bundle")
        try world.ok("bob", ["bundle", "create", "--out", bundle])

        // A copy with one byte of the second report altered: that change alone is refused, by name.
        let tampered = world.folder.sub("tampered.bundle")
        try Self.tamper(bundle: bundle, title: "Report two from Kidal", into: tampered)
        let carol = "carol"
        try world.ok(carol, ["init", "--reporter", carol])
        let rosterKey = try Self.get(world, "/v1/roster", token: world.tokens["desk"]!)["roster_key"]?.stringValue ?? "?"
        try world.ok(carol, ["config", "--roster-key", rosterKey])
        let refused = try world.outpost(carol, ["bundle", "apply", tampered])
        #expect(refused.status != 0)
        let bobReplica = try world.json("bob", ["identity", "--json"])["replica"]?.stringValue ?? "?"
        #expect((refused.stdout + refused.stderr).contains("\(bobReplica):2"), "\(refused.stdout)\(refused.stderr)")
        let carolHas = Set((try world.json(carol, ["list", "--json"]).arrayValue ?? []).compactMap { $0["id"]?.stringValue })
        #expect(carolHas == [first])  // nothing else lost
        // Positive control: the untouched bundle is taken whole.
        try world.ok("alice", ["bundle", "apply", bundle])
        let aliceHas = Set((try world.json("alice", ["list", "--json"]).arrayValue ?? []).compactMap { $0["id"]?.stringValue })
        #expect(aliceHas == [first, second])

        // Alice reaches the server: Bob's reports arrive, attributed to Bob, verified, delivered by Alice.
        try world.ok("alice", ["sync"])
        for id in [first, second] {
            let history = try Self.serverHistory(world, id)
            #expect(history.count == 1)
            #expect(history.first?["author"] == "bob")
            #expect(history.first?["verified"] == true)
            #expect(history.first?["delivered_by"] == "alice")
        }
        // And Alice's device shows them as verified work of Bob's.
        let local = try world.json("alice", ["history", first, "--json"]).arrayValue ?? []
        #expect(local.first?["reporter"] == "bob" && local.first?["verified"] == true)
    }

    @Test func aSquatterCannotTakeAnotherDevicesReplicaID() throws {
        let world = try World(reporters: ["alice", "bob"])
        // Mallory (bob's token) saw alice's replica ID in a bundle header; her store takes that ID
        // with a key of its own: the server refuses to bind it.
        let alice = try world.json("alice", ["identity", "--json"])
        #expect(alice["replica"]?.stringValue?.count == 32)
        let forgedStore = world.folder.sub("mallory")
        _ = try Store.create(
            at: forgedStore, reporter: "mallory", replica: ReplicaID(hex: alice["replica"]!.stringValue!)!,
            settings: ["server_url": world.server.url, "server_token": world.tokens["bob"]!])
        let squat = try run(Binaries.outpost, ["--store", forgedStore, "sync"])
        #expect(squat.status == 12, "\(squat.stdout)\(squat.stderr)")
        // Alice's own first sync still binds her device (positive control).
        try world.ok("alice", ["new", "--title", "Alice is not locked out"])
        #expect(try world.json("alice", ["sync", "--json"])["sent"] == 1)
    }

    @Test func aBundleOfForgedOwnChangesIsRefusedAndTheRecipientsLaterWorkStillArrives() throws {
        let world = try World(reporters: ["alice", "bob"])
        try world.ok("alice", ["new", "--title", "Alice's first"])
        try world.ok("alice", ["sync"])
        let aliceReplica = ReplicaID(hex: try world.json("alice", ["identity", "--json"])["replica"]!.stringValue!)!
        // Ten changes that claim alice's replica at counters above hers, signed by another key.
        let mallory = DeviceKey()
        let forged = (2...11).map { n in
            mallory.signed(
                Change(
                    dot: Dot(replica: aliceReplica, counter: UInt64(n)), record: RecordKey(id: "forged-\(n)"),
                    deps: VersionVector(), tag: HLCTag(ms: 1_772_359_200_000 + Int64(n), seq: 0),
                    writes: ["title": .string("Forged \(n)")]))
        }
        let lines = forged.enumerated().map {
            StoredChange(seq: Int64($0 + 1), replica: aliceReplica, counter: $1.dot.counter, body: $1.encodedJSON())
        }
        let file = world.folder.sub("forged.bundle")
        _ = FileManager.default.createFile(
            atPath: file,
            contents: Data(try BundleFile.encode(changes: lines, replica: ReplicaID.random(), reporter: "x", createdMs: 0)))
        let applied = try world.outpost("alice", ["bundle", "apply", file])
        #expect(applied.status != 0)
        #expect((applied.stdout + applied.stderr).contains("\(aliceReplica.hex):2"))
        // Her later real work is still counted as unsynced and reaches the server and bob.
        let real = try Self.newIncident(world, "alice", "Alice's second")
        #expect(try world.json("alice", ["status", "--json"])["unsynced_changes"] == 1)
        #expect(try world.json("alice", ["sync", "--json"])["sent"] == 1)
        try world.ok("bob", ["sync"])
        let bobHas = Set((try world.json("bob", ["list", "--json"]).arrayValue ?? []).compactMap { $0["id"]?.stringValue })
        #expect(bobHas.contains(real) && bobHas.count == 2)
    }

    /// Writes `source`'s bytes over `target` in place (same file, same inode), as a restore that
    /// the store cannot tell from its files.
    static func writeOver(_ target: String, from source: String) throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: source))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: target))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: bytes)
        try handle.close()
    }

    @Test func aDeviceRestoredFromAnOlderCopyLosesNothing() throws {
        let world = try World(reporters: ["alice", "bob"])
        let before = try Self.newIncident(world, "alice", "Before the copy")
        try world.ok("alice", ["sync"])
        // The copy (the folder as a backup would take it: the command finished, so no WAL is left).
        let copy = world.folder.sub("alice-copy")
        try FileManager.default.copyItem(atPath: world.store("alice"), toPath: copy)
        // Phase one: edits that reach the server, then the copy is written back over the store.
        let phaseOne = try Self.newIncident(world, "alice", "Phase one")
        try world.ok("alice", ["edit", before, "--killed", "1"])
        try world.ok("alice", ["sync"])
        for name in ["outpost.db", "outpost.db-wal", "outpost.db-shm"] {
            let target = (world.store("alice") as NSString).appendingPathComponent(name)
            let source = (copy as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: source) {
                try Self.writeOver(target, from: source)
            } else {
                try? FileManager.default.removeItem(atPath: target)
            }
        }
        // Phase two: the restored device edits again (reusing counters it does not know were
        // used) and syncs.
        let phaseTwo = try Self.newIncident(world, "alice", "Phase two")
        try world.ok("alice", ["edit", before, "--injured", "2"])
        try world.ok("alice", ["sync"])
        try world.ok("alice", ["sync"])
        try world.ok("bob", ["sync"])
        for holder in ["alice", "bob"] {
            let list = try world.json(holder, ["list", "--json"]).arrayValue ?? []
            let ids = Set(list.compactMap { $0["id"]?.stringValue })
            #expect(ids == [before, phaseOne, phaseTwo], "\(holder)")
            let edited = try world.json(holder, ["show", before, "--json"])
            #expect(edited["fields"]?["killed"] == 1 && edited["fields"]?["injured"] == 2, "\(holder): \(edited)")
        }
        #expect(try Self.serverIDs(world) == [before, phaseOne, phaseTwo])
        // The restored device went on under a new replica ID.
        let identity = try world.json("alice", ["identity", "--json"])
        let history = try world.json("alice", ["history", phaseTwo, "--json"]).arrayValue ?? []
        #expect(history.first?["replica"] == identity["replica"])
    }

    @Test func aServerRestoredFromAnOlderBackupGetsEverythingBackFromTheDevices() throws {
        let world = try World(reporters: ["alice", "bob", "carol"])
        let early = try Self.newIncident(world, "alice", "Early report")
        try world.ok("alice", ["sync"])
        try world.ok("bob", ["sync"])
        let backup = world.folder.sub("server-backup.db")
        let made = try run(Binaries.server, ["backup", "--db", world.server.db, "--out", backup])
        #expect(made.status == 0, "\(made.stderr)")
        // After the backup: more work reaches the server.
        let late = try Self.newIncident(world, "alice", "Late report")
        let fromBob = try Self.newIncident(world, "bob", "Bob after the backup")
        try world.ok("alice", ["sync"])
        try world.ok("bob", ["sync"])
        // The server's database goes back to the backup.
        world.server.stop()
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: world.server.db + suffix) }
        try? FileManager.default.removeItem(atPath: world.server.db)
        try FileManager.default.copyItem(atPath: backup, toPath: world.server.db)
        world.server = try ServerProcess(db: world.server.db, log: world.folder.sub("server.log"), port: world.server.port)
        // Devices keep working, then each syncs once more.
        let afterRestore = try Self.newIncident(world, "bob", "Bob after the restore")
        try world.ok("alice", ["sync"])
        try world.ok("bob", ["sync"])
        // A new reporter pulls everything.
        try world.ok("carol", ["sync"])
        let carolHas = Set((try world.json("carol", ["list", "--json"]).arrayValue ?? []).compactMap { $0["id"]?.stringValue })
        #expect(carolHas == [early, late, fromBob, afterRestore])
        #expect(try Self.serverIDs(world) == [early, late, fromBob, afterRestore])
    }
}
