import Foundation
import OutpostCore
import OutpostStore
import OutpostSync
import OutpostTestSupport
import Testing

/// Sealed parcels with real processes (issue 14): Alice's device, enrolled by its key, pins the
/// parcel key `enroll` printed, carries a parcel of Bob's work, and `outpost sync` hands it to the
/// server over HTTP (libcurl), which applies it; Alice's store then carries nothing.
@Suite("sealed parcels end to end", .serialized)
struct ParcelEndToEndTests {
    /// The encrypted store at `path`, opened with the test passphrase.
    private func openStore(_ path: String) throws -> Store {
        guard case .dataKey(let key) = try Keyfile.read(inStore: path).unlock(passphrase: TestPassphrase.text) else {
            throw HarnessError("the test passphrase did not open \(path)")
        }
        return try Store.open(at: path, cipher: StoreCipher(key: key))
    }

    /// `outpost` on `store`, which must succeed; its standard output.
    private func outpost(_ store: String, _ arguments: [String]) throws -> String {
        let r = try run(Binaries.outpost, ["--store", store] + arguments)
        try #require(r.status == 0, "outpost \(arguments.joined(separator: " ")): \(r.stderr)")
        return r.stdout
    }

    /// Enrolls the device of `store` by its key; the lines `enroll` printed.
    private func enroll(_ store: String, as reporter: String, db: String) throws -> [String] {
        let identity = try JSONParser.parse(Array(try outpost(store, ["identity", "--json"]).utf8))
        let r = try run(
            Binaries.server,
            [
                "enroll", "--db", db, "--reporter", reporter, "--replica", identity["replica"]?.stringValue ?? "",
                "--key", identity["key"]?.stringValue ?? "",
            ])
        try #require(r.status == 0, "enroll: \(r.stderr)")
        return r.stdout.split(separator: "\n").map(String.init)
    }

    @Test func aCarriedParcelGoesToTheServerAtSync() throws {
        let folder = TemporaryFolder()
        let db = folder.sub("server.db")
        let alice = folder.sub("alice")
        let bob = folder.sub("bob")
        _ = try outpost(alice, ["init", "--reporter", "alice"])
        _ = try outpost(bob, ["init", "--reporter", "bob"])
        let lines = try enroll(alice, as: "alice", db: db)
        try #require(lines.count == 3 && lines[2].hasPrefix("parcel key: "), "\(lines)")
        _ = try enroll(bob, as: "bob", db: db)
        let rosterKey = String(lines[1].dropFirst("roster key: ".count))
        let parcelKey = String(lines[2].dropFirst("parcel key: ".count))
        _ = try outpost(alice, ["config", "--roster-key", rosterKey, "--parcel-key", parcelKey])

        // Bob's work, sealed to the server's parcel key, in Alice's store as opaque bytes.
        let canary = "Canary \(UUID().uuidString)"
        let parcel: [UInt8]
        do {
            let change = try openStore(bob).create(fields: ["title": .string(canary)])
            let key = try #require(try openStore(alice).parcelKey()?.key)
            parcel = try Parcel.seal(changeBodies: [change.encodedJSON()], to: key)
            #expect(try openStore(alice).holdParcel(parcel))
        }
        let carrying = try JSONParser.parse(Array(try outpost(alice, ["status", "--json"]).utf8))
        #expect(carrying["parcels"] == .int(1) && carrying["parcel_bytes"] == .int(Int64(parcel.count)))

        let server = try ServerProcess(db: db, log: folder.sub("server.log"))
        defer { server.stop() }
        _ = try outpost(alice, ["config", "--server", server.url, "--token", lines[0]])
        let synced = try JSONParser.parse(Array(try outpost(alice, ["sync", "--json"]).utf8))
        #expect(synced["parcels_forwarded"] == .int(1), "\(synced)")
        let after = try JSONParser.parse(Array(try outpost(alice, ["status", "--json"]).utf8))
        #expect(after["parcels"] == .int(0) && after["parcel_bytes"] == .int(0))
        let export = try run(Binaries.server, ["export", "--db", db, "--format", "ndjson"])
        #expect(export.status == 0)
        #expect(export.stdout.contains(canary), "the server holds Bob's work")
        // A second sync has nothing to hand in.
        let again = try JSONParser.parse(Array(try outpost(alice, ["sync", "--json"]).utf8))
        #expect(again["parcels_forwarded"] == .int(0))
    }
}
