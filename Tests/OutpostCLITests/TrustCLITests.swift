import Crypto
import Foundation
import OutpostCore
import OutpostStore
import OutpostSync
import OutpostTestSupport
import Testing

/// `identity`, `roster`, `config --roster-key`, `history --json` and verification in `bundle
/// apply`, `show` and `list`, through the real binary.
@Suite("trust on the command line")
struct TrustCLITests: CLIStoreSuite {
    private func json(_ arguments: [String], store: String) throws -> JSONValue {
        try JSONParser.parse(Array(try ok(arguments, store: store).utf8))
    }

    /// A bundle of every change in the store at `path`, with `roster` in its header; `alter`
    /// changes the stored body of change `index` first (an attacker recomputes the checksum).
    private func bundle(
        of path: String, roster: [RosterEntry], altering index: Int? = nil, _ alter: (inout [UInt8]) -> Void = { _ in }
    ) throws -> [UInt8] {
        let store = try openStore(path)
        var stored = try store.changes(missingFrom: SyncSummary(), afterSeq: 0, limit: Int.max, maxBytes: Int.max).changes
        if let index { alter(&stored[index].body) }
        return try BundleFile.encode(
            changes: stored, replica: store.replica, reporter: try store.reporter, createdMs: 0, roster: roster)
    }

    /// The roster entry a server with `rosterKey` signs for the store at `path`.
    private func entry(for path: String, reporter: String, rosterKey: DeviceKey) throws -> RosterEntry {
        let store = try openStore(path)
        return RosterEntry(replica: store.replica, key: store.publicKey, reporter: reporter, status: .active, version: 1)
            .signed(by: rosterKey)
    }

    @Test func identityPrintsTheReplicaAndItsKey() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        _ = try ok(["init", "--reporter", "alice"], store: folder.store)
        let identity = try json(["identity", "--json"], store: folder.store)
        let replica = try #require(identity["replica"]?.stringValue)
        let keyText = try #require(identity["key"]?.stringValue)
        #expect(identity.objectValue?.keys.sorted() == ["key", "replica"])
        #expect(keyText.count == 43 && !keyText.contains("="))
        let key = try #require(Base64URL.decode(keyText))
        #expect(key.count == 32 && replica == ReplicaID.derived(fromPublicKey: key).hex)
        #expect(try json(["status", "--json"], store: folder.store)["replica"]?.stringValue == replica)
        let text = try ok(["identity"], store: folder.store)
        #expect(text.contains(replica) && text.contains(keyText) && text.contains("alice"))
    }

    @Test func rosterListsEntriesAndConfigPinsTheRosterKey() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        _ = try ok(["init", "--reporter", "alice"], store: folder.store)
        let own = try json(["identity", "--json"], store: folder.store)
        let roster = try #require(try json(["roster", "--json"], store: folder.store).arrayValue)
        #expect(roster.count == 1)
        #expect(roster.first?["replica"] == own["replica"] && roster.first?["key"] == own["key"])
        #expect(roster.first?["reporter"] == "alice" && roster.first?["status"] == "active")
        #expect(roster.first?.objectValue?.keys.sorted() == ["key", "replica", "reporter", "status", "version"])
        #expect(try ok(["roster"], store: folder.store).contains("not pinned"))

        let bad = try CLIRunner.run(["config", "--roster-key", "not-a-key"], store: folder.store)
        #expect(bad.status == 6 && bad.stderr.contains("--roster-key"))
        let office = Base64URL.encode(DeviceKey().publicKey)
        #expect(try ok(["config", "--roster-key", office], store: folder.store).contains("Pinned"))
        #expect(try ok(["roster"], store: folder.store).contains(office))
        #expect(try ok(["config", "--roster-key", office], store: folder.store).contains("Pinned"))
        let other = try CLIRunner.run(["config", "--roster-key", Base64URL.encode(DeviceKey().publicKey)], store: folder.store)
        #expect(other.status == 7 && other.stderr.contains("not the one this device pinned"))
        #expect(try ok(["roster"], store: folder.store).contains(office))
    }

    /// `history --json` gives per change its author replica, the roster's name (not the change's
    /// own `reporter` text), counter, tag, deps, writes, signature and verification; Bob's work
    /// that reached Alice without a roster is null-named and unverified, and `show`, `list` and
    /// `history` say so.
    @Test func historyJSONAndUnverifiedMarks() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        let a = folder.path + "/a", b = folder.path + "/b"
        _ = try ok(["init", "--reporter", "alice"], store: a)
        _ = try ok(["init", "--reporter", "bob"], store: b)
        let id = try ok(["new", "--title", "Well poisoned"], store: a).trimmingCharacters(in: .newlines)
        _ = try ok(["edit", id, "--killed", "2"], store: a)
        let history = try #require(try json(["history", id, "--json"], store: a).arrayValue)
        let replica = try json(["identity", "--json"], store: a)["replica"]
        #expect(history.count == 2)
        for (i, change) in history.enumerated() {
            #expect(change["replica"] == replica && change["reporter"] == "alice")
            #expect(change["counter"] == .int(Int64(i + 1)))
            #expect(change["ms"]?.intValue ?? 0 > 1_600_000_000_000 && change["seq"]?.intValue != nil)
            #expect(change["sig"]?.stringValue?.count == 86)
            #expect(change["verified"] == .bool(true))
            for key in ["replica", "reporter", "counter", "ms", "seq", "deps", "writes", "sig", "verified"] {
                #expect(change[key] != nil, "history entry lacks \(key)")
            }
        }
        #expect(history[0]["deps"] == .object([:]))
        #expect(history[1]["deps"] == .object([replica!.stringValue!: 1]))
        #expect(history[1]["writes"] == .object(["killed": 2]))

        let bobID = try ok(["new", "--title", "Bridge down"], store: b).trimmingCharacters(in: .newlines)
        let file = folder.path + "/b.bundle"
        _ = try ok(["bundle", "create", "--out", file], store: b)
        #expect(try ok(["bundle", "apply", file], store: a).contains("1 unverified"))
        let unverified = try #require(try json(["history", bobID, "--json"], store: a).arrayValue?.first)
        #expect(unverified["reporter"] == .null && unverified["verified"] == .null)
        #expect(unverified["sig"]?.stringValue?.count == 86)
        #expect(try ok(["history", bobID], store: a).contains("unverified"))
        #expect(try ok(["show", bobID], store: a).contains("unverified"))
        #expect(!(try ok(["show", id], store: a).contains("unverified")))
        let list = try ok(["list"], store: a).split(separator: "\n")
        #expect(list.first { $0.hasPrefix(bobID) }?.contains("unverified") == true)
        #expect(list.first { $0.hasPrefix(id) }?.contains("unverified") == false)
    }

    /// One byte of one change altered in a bundle: `bundle apply` refuses that change, names its
    /// dot and exits 6, and applies everything else. The same bundle unaltered applies whole.
    @Test func aBundleWithOneAlteredByteIsRefusedForThatChangeAlone() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        let b = folder.path + "/b", good = folder.path + "/good", bad = folder.path + "/bad"
        _ = try ok(["init", "--reporter", "bob"], store: b)
        for i in 0..<4 { _ = try ok(["new", "--title", "Report \(i)"], store: b) }
        let office = DeviceKey()
        let roster = [try entry(for: b, reporter: "bob", rosterKey: office)]
        for store in [good, bad] {
            _ = try ok(["init", "--reporter", "carol"], store: store)
            _ = try ok(["config", "--roster-key", Base64URL.encode(office.publicKey)], store: store)
        }
        let intact = folder.path + "/intact.bundle", altered = folder.path + "/altered.bundle"
        _ = FileManager.default.createFile(atPath: intact, contents: Data(try bundle(of: b, roster: roster)))
        let dot = try #require(try openStore(b).changes(missingFrom: SyncSummary(), afterSeq: 0, limit: 10).changes.last)
        _ = FileManager.default.createFile(
            atPath: altered,
            contents: Data(
                try bundle(of: b, roster: roster, altering: 3) { body in
                    let at = body.indices.first { Array(body[$0..<$0 + 8]) == Array("Report 3".utf8) }!
                    body[at + 7] = UInt8(ascii: "8")
                }))

        let positive = try CLIRunner.run(["bundle", "apply", intact], store: good)
        #expect(positive.status == 0 && positive.stdout.contains("4 new changes"), "\(positive.stderr)")
        let refused = try CLIRunner.run(["bundle", "apply", altered], store: bad)
        #expect(refused.status == 6)
        #expect(refused.stdout.contains("3 new changes") && refused.stdout.contains("1 refused"))
        #expect(refused.stderr.contains("\(dot.replica.hex):\(dot.counter)") && refused.stderr.contains("signature"))
        #expect(try json(["list", "--json"], store: bad).arrayValue?.count == 3)
        let titles = Set(
            try json(["list", "--json"], store: good).arrayValue!.compactMap { $0["fields"]?["title"]?.stringValue })
        #expect(titles == ["Report 0", "Report 1", "Report 2", "Report 3"])
        #expect(try ok(["list"], store: good).contains("unverified") == false)
    }

    /// A bundle of changes that claim Alice's replica above her counter, signed by another key,
    /// is refused (exit 6, "forged"); her later work keeps counting as unsynced.
    @Test func forgedOwnChangesAreRefusedAndStatusStillCountsLaterWork() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        let a = folder.path + "/a"
        _ = try ok(["init", "--reporter", "alice"], store: a)
        _ = try ok(["new", "--title", "First"], store: a)
        let replica = try #require(ReplicaID(hex: try json(["identity", "--json"], store: a)["replica"]!.stringValue!))
        let mallory = DeviceKey()
        let forged = (2...11).map { counter in
            mallory.signed(
                Change(
                    dot: Dot(replica: replica, counter: UInt64(counter)), record: RecordKey(id: "forged-\(counter)"),
                    deps: VersionVector(), tag: HLCTag(ms: 1_700_000_000_000, seq: UInt32(counter)),
                    writes: ["title": .string("Forged \(counter)")], reporter: "alice"))
        }
        let file = folder.path + "/forged.bundle"
        let bytes = try BundleFile.encode(
            changes: forged.map { StoredChange(seq: 0, replica: replica, counter: $0.dot.counter, body: $0.encodedJSON()) },
            replica: ReplicaID(bytes: Array(repeating: 7, count: 16)), reporter: "mallory", createdMs: 0)
        _ = FileManager.default.createFile(atPath: file, contents: Data(bytes))
        let r = try CLIRunner.run(["bundle", "apply", file], store: a)
        #expect(r.status == 6 && r.stderr.contains("forged") && r.stderr.contains("\(replica.hex):2"))
        _ = try ok(["new", "--title", "Second"], store: a)
        let status = try json(["status", "--json"], store: a)
        #expect(status["own_changes"] == 2 && status["unsynced_changes"] == 2 && status["total_changes"] == 2)
        #expect(try json(["list", "--json"], store: a).arrayValue?.count == 2)
    }
}
