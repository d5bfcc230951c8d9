import Crypto
import Foundation
import OutpostCore
import OutpostStore
import OutpostSync
import OutpostTestSupport
import Testing

/// Sealed parcels on the command line (issue 14): `status` shows what a device carries,
/// `config --parcel-key` pins the key `outpost-server enroll` prints.
@Suite("sealed parcels on the command line")
struct ParcelCLITests: CLIStoreSuite {
    /// A parcel of one signed change, sealed to a fresh X25519 key.
    private func parcel(title: String) throws -> [UInt8] {
        let author = DeviceKey()
        let change = author.signed(
            Change(
                dot: Dot(replica: author.replicaID, counter: 1), record: RecordKey(id: "P-\(title)"), deps: VersionVector([:]),
                tag: HLCTag(ms: 1_000, seq: 0), writes: ["title": .string(title)], reporter: "bob"))
        let key = Array(Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation)
        return try Parcel.seal(changeBodies: [change.encodedJSON()], to: key)
    }

    @Test func statusShowsTheParcelsCarried() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        _ = try ok(["init", "--reporter", "alice"], store: folder.store)
        let empty = try JSONParser.parse(Array(try ok(["status", "--json"], store: folder.store).utf8))
        #expect(empty["parcels"] == .int(0) && empty["parcel_bytes"] == .int(0))
        #expect(!(try ok(["status"], store: folder.store)).contains("sealed parcel"))

        let parcels = [try parcel(title: "Convoy"), try parcel(title: "Market")]
        do {
            let store = try openStore(folder.store)
            for parcel in parcels { #expect(try store.holdParcel(parcel)) }
        }
        let bytes = parcels.map(\.count).reduce(0, +)
        let status = try JSONParser.parse(Array(try ok(["status", "--json"], store: folder.store).utf8))
        #expect(status["parcels"] == .int(2))
        #expect(status["parcel_bytes"] == .int(Int64(bytes)))
        let text = try ok(["status"], store: folder.store)
        let size = String(format: "%.1f", Double(bytes) / 1000)
        #expect(
            text.contains("Carrying 2 sealed parcels (\(size) kB) for the server; they go at the next sync."), "\(text)")
    }

    /// `config --parcel-key` takes the key only with the roster key's signature over it, given
    /// with the roster key or after it; malformed text, a signature of another key, no pinned
    /// roster key and a second, different key are refused, each changing nothing.
    @Test func configPinsTheParcelKeyTheRosterKeySigned() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        _ = try ok(["init", "--reporter", "alice"], store: folder.store)
        let office = DeviceKey()
        let parcelKey = Array(Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation)
        let vouched =
            Base64URL.encode(parcelKey) + "." + Base64URL.encode(office.signature(for: Store.parcelKeyStatement(parcelKey)))

        let unpinned = try CLIRunner.run(["config", "--parcel-key", vouched], store: folder.store)
        #expect(unpinned.status == 7 && unpinned.stderr.contains("roster key is not pinned"), "\(unpinned.stderr)")
        for bad in ["nonsense", Base64URL.encode(parcelKey), "abc.def", Base64URL.encode(parcelKey) + ".xyz"] {
            let r = try CLIRunner.run(["config", "--parcel-key", bad], store: folder.store)
            #expect(r.status == 6 && r.stderr.contains("--parcel-key"), "\(bad): \(r.stderr)")
        }
        let stranger = DeviceKey()
        let forged =
            Base64URL.encode(parcelKey) + "." + Base64URL.encode(stranger.signature(for: Store.parcelKeyStatement(parcelKey)))
        let wrongSigner = try CLIRunner.run(
            ["config", "--roster-key", Base64URL.encode(office.publicKey), "--parcel-key", forged], store: folder.store)
        #expect(wrongSigner.status == 6 && wrongSigner.stderr.contains("not signed"), "\(wrongSigner.stderr)")
        do {
            let store = try openStore(folder.store)
            #expect(try store.rosterKey() == nil, "a refused parcel key leaves the roster key unpinned too")
            #expect(try store.parcelKey() == nil)
        }

        let pinned = try ok(
            ["config", "--roster-key", Base64URL.encode(office.publicKey), "--parcel-key", vouched], store: folder.store)
        #expect(pinned == "Pinned the server's roster key and parcel key.\n")
        do {
            let store = try openStore(folder.store)
            #expect(try store.parcelKey()?.key == parcelKey)
        }
        #expect(
            try ok(["config", "--parcel-key", "parcel key: " + vouched], store: folder.store)
                == "Pinned the server's parcel key.\n")

        let otherKey = Array(Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation)
        let other =
            Base64URL.encode(otherKey) + "." + Base64URL.encode(office.signature(for: Store.parcelKeyStatement(otherKey)))
        let replaced = try CLIRunner.run(["config", "--parcel-key", other], store: folder.store)
        #expect(replaced.status == 7 && replaced.stderr.contains("never replaced"), "\(replaced.stderr)")
        #expect(try openStore(folder.store).parcelKey()?.key == parcelKey)
    }

    /// `outpost-server enroll --replica --key` prints the token, the roster key and the parcel
    /// key; the device pins the last two with `config`, and holds only parcels sealed to that key.
    @Test func enrollPrintsTheParcelKeyAndConfigPinsIt() throws {
        let outpost = try CLIRunner.requireBinary()
        let server = (outpost as NSString).deletingLastPathComponent + "/outpost-server"
        try #require(FileManager.default.isExecutableFile(atPath: server), "build outpost-server beside outpost")
        let folder = try TempFolder.make()
        defer { folder.remove() }
        _ = try ok(["init", "--reporter", "alice"], store: folder.store)
        let identity = try JSONParser.parse(Array(try ok(["identity", "--json"], store: folder.store).utf8))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: server)
        process.arguments = [
            "enroll", "--db", folder.path + "/server.db", "--reporter", "alice",
            "--replica", try #require(identity["replica"]?.stringValue), "--key", try #require(identity["key"]?.stringValue),
        ]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let lines = printed.split(separator: "\n").map(String.init)
        try #require(lines.count == 3, "\(printed)")
        #expect(lines[1].hasPrefix("roster key: ") && lines[2].hasPrefix("parcel key: "))
        let rosterKey = String(lines[1].dropFirst("roster key: ".count))
        let parcelKey = String(lines[2].dropFirst("parcel key: ".count))
        #expect(
            try ok(["config", "--roster-key", rosterKey, "--parcel-key", parcelKey], store: folder.store)
                == "Pinned the server's roster key and parcel key.\n")
        let store = try openStore(folder.store)
        let key = try #require(try store.parcelKey()?.key)
        #expect(Base64URL.encode(key) == String(parcelKey.prefix { $0 != "." }))
        #expect(throws: StoreError.self) { try store.holdParcel(try parcel(title: "Elsewhere")) }
    }
}
