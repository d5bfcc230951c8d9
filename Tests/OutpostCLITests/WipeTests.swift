import Foundation
import OutpostStore
import Testing

/// `outpost wipe`, `secure_delete` and the WAL truncated when a command ends (issue 13), run
/// through the real binary with a canary searched for byte by byte.
@Suite("wipe and leftover plaintext")
struct WipeTests {
    /// A value that appears nowhere else: `OUTPOST_CANARY_` and random hex.
    private static func canary() -> String {
        "OUTPOST_CANARY_" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
    }

    /// The files under `root` (recursively) whose bytes contain `needle`, by path.
    private static func filesContaining(_ needle: String, under root: String) -> [String] {
        let pattern = Data(needle.utf8)
        var found: [String] = []
        guard let walker = FileManager.default.enumerator(atPath: root) else { return [] }
        for case let relative as String in walker {
            let path = root + "/" + relative
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                let bytes = FileManager.default.contents(atPath: path)
            else { continue }
            if bytes.range(of: pattern) != nil { found.append(relative) }
        }
        return found
    }

    private func run(_ arguments: [String], _ folder: TempFolder) throws -> CLIResult {
        try CLIRunner.run(arguments, store: folder.store)
    }

    private func initStore(_ folder: TempFolder) throws {
        let r = try run(["init", "--reporter", "alice"], folder)
        try #require(r.status == 0, "init failed: \(r.stderr)")
    }

    /// A plaintext store as Outpost made them before encryption (no keyfile): there the search's
    /// positive controls can see values, so these tests prove what secure_delete, the WAL
    /// truncation and the shredding do on their own. (`EncryptedStoreCLITests` wipes encrypted ones.)
    private func initPlaintextStore(_ folder: TempFolder) throws {
        _ = try Store.create(at: folder.store, reporter: "alice").checkpointAndTruncate()
    }

    private func newIncident(_ folder: TempFolder, narrative: String = "Shelling at dawn") throws -> String {
        let r = try run(
            [
                "new", "--title", "Shelling near the market", "--event-type", "explosion_remote_violence",
                "--occurred-at", "2024-05-01T06:30:00Z", "--narrative", narrative,
            ], folder)
        try #require(r.status == 0, "new failed: \(r.stderr)")
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A replaced server token is gone from every file of the store once the command ends: the
    /// WAL frames that held its page are checkpointed and the WAL truncated (`secure_delete`,
    /// tested on its own in `SecureDeleteTests`, zeroes the old row in the database file).
    @Test func replacedTokenLeavesNothingInTheWAL() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        try initPlaintextStore(folder)
        let secret = Self.canary()
        let set = try run(["config", "--token", secret], folder)
        try #require(set.status == 0, "\(set.stderr)")
        // Positive control: the search finds the token while it is the store's.
        #expect(!Self.filesContaining(secret, under: folder.store).isEmpty)
        let replace = try run(["config", "--token", "short"], folder)
        try #require(replace.status == 0, "\(replace.stderr)")
        #expect(Self.filesContaining(secret, under: folder.store) == [])
        let wal = (try? FileManager.default.attributesOfItem(atPath: folder.store + "/outpost.db-wal"))?[.size] as? Int
        #expect(wal == nil || wal == 0, "the WAL is truncated when a command ends")
    }

    /// After `wipe --yes` nothing of the store is left: the folder is gone and no file under the
    /// folder that held it contains the narrative's canary, which was there before the wipe.
    @Test func wipeLeavesNothingBehind() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        try initPlaintextStore(folder)
        let secret = Self.canary()
        let id = try newIncident(folder, narrative: "Witness \(secret) saw the convoy")
        #expect(try run(["edit", id, "--narrative", "Witness saw the convoy"], folder).status == 0)
        #expect(try run(["delete", id], folder).status == 0)
        // Positive control: the change log keeps the first version, so the search finds it.
        #expect(!Self.filesContaining(secret, under: folder.path).isEmpty)

        let wipe = try run(["wipe", "--yes"], folder)
        #expect(wipe.status == 0, "\(wipe.stderr)")
        #expect(wipe.stdout.contains("Overwrote the signing key with random bytes"))
        #expect(wipe.stdout.contains("Removed the store folder"))
        #expect(!FileManager.default.fileExists(atPath: folder.store))
        #expect(Self.filesContaining(secret, under: folder.path) == [])
        #expect(try run(["status"], folder).status == 3)
    }

    /// Files in the store folder that are not the store's are neither overwritten nor removed.
    @Test func wipeKeepsFilesThatAreNotTheStores() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        try initStore(folder)
        _ = try newIncident(folder)
        let other = folder.store + "/notes.txt"
        try Data("my own notes".utf8).write(to: URL(fileURLWithPath: other))
        #expect(try run(["config", "--token", "device-token"], folder).status == 0)
        let wipe = try run(["wipe", "--yes"], folder)
        #expect(wipe.status == 0, "\(wipe.stderr)")
        #expect(wipe.stdout.contains("removed the keyfile: nothing of the store decrypts any more"), "\(wipe.stdout)")
        #expect(wipe.stdout.contains("notes.txt"))
        #expect(FileManager.default.contents(atPath: other) == Data("my own notes".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.store) == ["notes.txt"])
    }

    /// Without a terminal and without --yes, wipe refuses (usage, exit 2) and changes nothing.
    @Test func wipeWithoutTerminalOrYesRefuses() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        try initStore(folder)
        _ = try newIncident(folder)
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.store).sorted()
        let database = try Data(contentsOf: URL(fileURLWithPath: folder.store + "/outpost.db"))
        let wipe = try CLIRunner.run(["wipe"], store: folder.store, stdin: Array("wipe\n".utf8))
        #expect(wipe.status == 2)
        #expect(wipe.stderr.contains("--yes"))
        #expect(wipe.stdout.contains("1 change made on this store has not reached any other replica"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.store).sorted() == files)
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder.store + "/outpost.db")) == database)
        let list = try run(["list"], folder)
        #expect(list.status == 0)
        #expect(list.stdout.contains("Shelling near the market"))
    }

    /// The count covers own changes above the highest that left by any road: three made and
    /// none sent says 3; after a bundle carried them and one more, it says 1.
    @Test func wipeCountsUnsharedOwnChanges() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        try initStore(folder)
        let id = try newIncident(folder)
        #expect(try run(["edit", id, "--killed", "2"], folder).status == 0)
        _ = try newIncident(folder)
        let refused = try run(["wipe"], folder)
        #expect(refused.stdout.contains("3 changes made on this store have not reached any other replica"))

        let bundle = try run(["bundle", "create", "--out", folder.path + "/all.bundle"], folder)
        try #require(bundle.status == 0, "\(bundle.stderr)")
        #expect(try run(["wipe"], folder).stdout.contains("Every change made on this store has reached another replica"))
        #expect(try run(["edit", id, "--killed", "3"], folder).status == 0)
        let wipe = try run(["wipe", "--yes"], folder)
        #expect(wipe.status == 0, "\(wipe.stderr)")
        #expect(wipe.stdout.contains("1 change made on this store has not reached any other replica"))
    }

    /// A store SQLite cannot open (damaged) is still wiped: its files are overwritten and removed.
    @Test func aDamagedStoreIsStillWiped() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        try FileManager.default.createDirectory(atPath: folder.store, withIntermediateDirectories: true)
        let secret = Self.canary()
        try Data(("not a database " + secret + String(repeating: "x", count: 5000)).utf8)
            .write(to: URL(fileURLWithPath: folder.store + "/outpost.db"))
        #expect(!Self.filesContaining(secret, under: folder.path).isEmpty)
        let wipe = try run(["wipe", "--yes"], folder)
        #expect(wipe.status == 0, "\(wipe.stderr)")
        #expect(wipe.stdout.contains("Cannot count the changes not yet shared"))
        #expect(wipe.stdout.contains("Could not overwrite the keys inside the database"))
        #expect(!FileManager.default.fileExists(atPath: folder.store))
        #expect(Self.filesContaining(secret, under: folder.path) == [])
    }

    /// A missing store is the usual "no store" failure (exit 3), and nothing is created.
    @Test func wipeOfAMissingStoreFails() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        let wipe = try run(["wipe", "--yes"], folder)
        #expect(wipe.status == 3)
        #expect(wipe.stderr.contains("no Outpost store"))
        #expect(!FileManager.default.fileExists(atPath: folder.store))
    }
}
