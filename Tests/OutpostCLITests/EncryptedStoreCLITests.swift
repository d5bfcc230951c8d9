import Foundation
import OutpostStore
import OutpostTestSupport
import Testing

/// Issue 13 through the real binary: passphrases from files, locked stores, wrong and changed
/// passphrases, a tampered keyfile, the duress passphrase and wiping a locked store.
@Suite struct EncryptedStoreCLITests {
    private func run(_ arguments: [String], _ folder: TempFolder, passphraseFile: String? = nil) throws -> CLIResult {
        var environment: [String: String] = [:]
        if let passphraseFile { environment["OUTPOST_PASSPHRASE_FILE"] = passphraseFile }
        return try CLIRunner.run(arguments, store: folder.store, environment: environment)
    }

    private func ok(_ arguments: [String], _ folder: TempFolder, passphraseFile: String? = nil) throws -> String {
        let r = try run(arguments, folder, passphraseFile: passphraseFile)
        try #require(r.status == 0, "outpost \(arguments.joined(separator: " ")) exited \(r.status): \(r.stderr)")
        return r.stdout
    }

    private func storeBytesContain(_ text: String, _ folder: TempFolder) -> Bool {
        let needle = Array(text.utf8)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.store)) ?? []
        return names.contains { name in
            guard let data = FileManager.default.contents(atPath: folder.store + "/" + name) else { return false }
            let bytes = [UInt8](data)
            guard bytes.count >= needle.count else { return false }
            return (0...(bytes.count - needle.count)).contains {
                bytes[$0] == needle[0] && Array(bytes[$0..<$0 + needle.count]) == needle
            }
        }
    }

    @Test func aStoreIsEncryptedAndALockedOneSaysHowToUnlock() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        _ = try ok(["init", "--reporter", "alice"], folder)
        #expect(FileManager.default.fileExists(atPath: folder.store + "/outpost.key"))
        let id = try ok(["new", "--title", "Roadblock near Anefis"], folder).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try ok(["show", id], folder).contains("Roadblock near Anefis"))
        let locked = try run(["list"], folder, passphraseFile: "")
        #expect(locked.status == 15)
        #expect(
            locked.stderr.contains("locked by its passphrase") && locked.stderr.contains("outpost unlock"), "\(locked.stderr)")
        let status = try JSONParserShim.object(try ok(["status", "--json"], folder))
        #expect(status["encrypted"] as? Bool == true)
        #expect(status["kdf_log2n"] as? Int == 10)
        #expect(try ok(["status"], folder).contains("encryption"))
    }

    @Test func initNeedsAPassphraseSourceAndALongEnoughPassphrase() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        let none = try run(["init", "--reporter", "alice"], folder, passphraseFile: "")
        #expect(none.status == 2, "no terminal, no file: \(none.stderr)")
        #expect(none.stderr.contains("--passphrase-file"))
        let short = folder.write("short", "2short\n")
        let tooShort = try run(["init", "--reporter", "alice", "--passphrase-file", short], folder)
        #expect(tooShort.status == 6 && tooShort.stderr.contains("at least 8"), "\(tooShort.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder.store + "/outpost.db"), "nothing was created")
        let given = folder.write("given", "a passphrase from a flag\n")
        _ = try ok(["init", "--reporter", "alice", "--passphrase-file", given], folder, passphraseFile: "")
        #expect(try run(["list"], folder, passphraseFile: given).status == 0)
        #expect(try run(["list"], folder).status == 15, "the test passphrase is not this store's")
    }

    @Test func aWrongPassphraseFailsIsCountedAndSlowedAndTheRightOneResetsTheCount() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        _ = try ok(["init", "--reporter", "alice"], folder)
        let wrong = folder.write("wrong", "not the passphrase\n")
        let started = Date()
        let first = try run(["list"], folder, passphraseFile: wrong)
        #expect(first.status == 15 && first.stderr.contains("wrong passphrase"), "\(first.stderr)")
        #expect(try String(contentsOfFile: folder.store + "/outpost.key.tries", encoding: .utf8) == "1\n")
        #expect(Date().timeIntervalSince(started) >= 1, "a wrong try waits")
        _ = try run(["list"], folder, passphraseFile: wrong)
        #expect(try String(contentsOfFile: folder.store + "/outpost.key.tries", encoding: .utf8) == "2\n")
        _ = try ok(["list"], folder)
        #expect(!FileManager.default.fileExists(atPath: folder.store + "/outpost.key.tries"))
    }

    @Test func aTamperedKeyfileOpensNothingWithTheRightPassphrase() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        _ = try ok(["init", "--reporter", "alice"], folder)
        let path = folder.store + "/outpost.key"
        let pristine = try Data(contentsOf: URL(fileURLWithPath: path))
        for offset in [14, 10] {  // a salt byte; the cost (2^10 → 2^11)
            var bytes = [UInt8](pristine)
            bytes[offset] ^= 0x01
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let r = try run(["list"], folder)
            #expect(r.status == 15, "byte \(offset): \(r.stderr)")
            try? FileManager.default.removeItem(atPath: folder.store + "/outpost.key.tries")
        }
        try pristine.write(to: URL(fileURLWithPath: path))
        _ = try ok(["list"], folder)  // the positive control
    }

    /// A plaintext database put in place of the encrypted one (beside its keyfile) is refused, so
    /// nothing the reporter records next is written in the clear; the encrypted one is the control.
    @Test func aPlaintextDatabaseSwappedInBesideTheKeyfileIsRefused() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        _ = try ok(["init", "--reporter", "alice"], folder)
        _ = try ok(["list"], folder)
        let planted = try TempFolder.make()
        defer { planted.remove() }
        _ = try Store.create(at: planted.store, reporter: "alice").checkpointAndTruncate()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: folder.store + "/outpost.db" + suffix) }
        try FileManager.default.copyItem(atPath: planted.store + "/outpost.db", toPath: folder.store + "/outpost.db")
        let r = try run(["new", "--title", "Written in the clear?"], folder)
        #expect(r.status == 8, "\(r.stderr)")
        #expect(r.stderr.contains("has a keyfile but its database is not encrypted"))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: folder.store + "/outpost.db"))
        #expect(bytes.range(of: Data("Written in the clear?".utf8)) == nil)
    }

    /// A store made before encryption is sealed in place by `outpost encrypt`: same replica, same
    /// reports, nothing left in the clear, locked without the passphrase; an interrupted run (the
    /// keyfile made, the store not yet sealed) finishes when run again.
    @Test func encryptSealsAnOlderPlaintextStoreInPlace() throws {
        for interrupted in [false, true] {
            let folder = try TempFolder.make()
            defer { folder.remove() }
            let replica = try Store.create(at: folder.store, reporter: "alice").replica.hex
            let id = try ok(["new", "--title", "Written before encryption"], folder).trimmingCharacters(
                in: .whitespacesAndNewlines)
            #expect(storeBytesContain("Written before encryption", folder), "positive control: plaintext")
            #expect(try ok(["status"], folder).contains("outpost encrypt"))
            if interrupted {
                // As if `encrypt` had stopped right after writing the keyfile.
                try Keyfile.create(
                    passphrase: TestPassphrase.text, reporter: "alice", dataKey: StoreCipher.randomKey(), log2N: 10
                ).write(inStore: folder.store)
                let refused = try run(["list"], folder)
                #expect(refused.status == 8 && refused.stderr.contains("outpost encrypt"), "\(refused.stderr)")
            }
            let encrypted = try ok(["encrypt"], folder)
            #expect(encrypted.contains("Encrypted the store"), "\(encrypted)")
            #expect(!storeBytesContain("Written before encryption", folder))
            #expect(try ok(["show", id], folder).contains("Written before encryption"))
            #expect(try JSONParserShim.object(try ok(["identity", "--json"], folder))["replica"] as? String == replica)
            #expect(try run(["list"], folder, passphraseFile: "").status == 15)
            #expect(try run(["encrypt"], folder).status == 7, "already encrypted")
        }
    }

    @Test func afterAPassphraseChangeOnlyTheNewOneOpensTheSameData() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        _ = try ok(["init", "--reporter", "alice"], folder)
        let id = try ok(["new", "--title", "Well poisoned at Ber"], folder).trimmingCharacters(in: .whitespacesAndNewlines)
        let new = folder.write("new", "a brand new passphrase\n")
        let changed = try ok(["passphrase", "change", "--new-passphrase-file", new], folder)
        #expect(changed.contains("Changed the passphrase"))
        #expect(try run(["list"], folder).status == 15, "the old passphrase opens nothing")
        try? FileManager.default.removeItem(atPath: folder.store + "/outpost.key.tries")
        #expect(try ok(["show", id], folder, passphraseFile: new).contains("Well poisoned at Ber"))
    }

    @Test func theDuressPassphraseWipesSilentlyAndLeavesAFreshEmptyStore() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        _ = try ok(["init", "--reporter", "Amina"], folder)
        let secret = "Names of the witnesses at Tessit"
        _ = try ok(["new", "--title", secret], folder)
        let oldReplica = try JSONParserShim.object(try ok(["identity", "--json"], folder))["replica"] as? String
        let duress = folder.write("duress", "the checkpoint passphrase\n")
        _ = try ok(["duress", "set", "--duress-passphrase-file", duress], folder)
        // At the checkpoint: the duress passphrase is given.
        let listed = try run(["list", "--json"], folder, passphraseFile: duress)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        #expect(listed.stderr.isEmpty, "nothing unusual is said: \(listed.stderr)")
        let status = try JSONParserShim.object(try ok(["status", "--json"], folder, passphraseFile: duress))
        #expect(status["reporter"] as? String == "Amina")
        #expect(status["replica"] as? String != oldReplica, "a fresh store")
        // The old passphrase opens nothing, and nothing of the old store is left.
        #expect(try run(["list"], folder).status == 15)
        #expect(!storeBytesContain(secret, folder))
        #expect(!storeBytesContain(oldReplica ?? "-", folder))
    }

    /// Given to `outpost unlock`, the duress passphrase wipes too, and the agent then holds the
    /// fresh store's key.
    @Test func theDuressPassphraseGivenToUnlockWipesAndUnlocksAFreshStore() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        _ = try ok(["init", "--reporter", "Amina"], folder)
        _ = try ok(["new", "--title", "Witness list, Tessit"], folder)
        let duress = folder.write("duress", "the checkpoint passphrase\n")
        _ = try ok(["duress", "set", "--duress-passphrase-file", duress], folder)
        let unlocked = try run(["unlock", "--for", "1m", "--passphrase-file", duress], folder)
        defer { _ = try? run(["lock"], folder) }
        #expect(unlocked.status == 0 && unlocked.stdout.contains("Unlocked"), "\(unlocked.stderr)")
        // The agent answers now, with no passphrase anywhere.
        let listed = try run(["list", "--json"], folder, passphraseFile: "")
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        #expect(!storeBytesContain("Witness list, Tessit", folder))
    }

    @Test func aLockedStoreIsWipedWithoutItsPassphraseAndNothingDecryptsAfter() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        _ = try ok(["init", "--reporter", "alice"], folder)
        _ = try ok(["new", "--title", "Convoy ambushed"], folder)
        // A copy of the database taken before the wipe (as a worn flash block may keep one).
        let databaseCopy = try Data(contentsOf: URL(fileURLWithPath: folder.store + "/outpost.db"))
        // Positive control: with its keyfile, such a copy opens with the passphrase.
        let control = try TempFolder.make()
        defer { control.remove() }
        try FileManager.default.createDirectory(atPath: control.store, withIntermediateDirectories: true)
        try databaseCopy.write(to: URL(fileURLWithPath: control.store + "/outpost.db"))
        try FileManager.default.copyItem(atPath: folder.store + "/outpost.key", toPath: control.store + "/outpost.key")
        #expect(try ok(["list"], control).contains("Convoy ambushed"))

        let wiped = try run(["wipe", "--yes"], folder, passphraseFile: "")
        #expect(wiped.status == 0, "\(wiped.stderr)")
        #expect(wiped.stdout.contains("keyfile"))
        #expect(!FileManager.default.fileExists(atPath: folder.store), "the folder is gone")
        // After the wipe the keyfile is gone, so the same copy opens with nothing, passphrase or not.
        try FileManager.default.createDirectory(atPath: folder.store, withIntermediateDirectories: true)
        try databaseCopy.write(to: URL(fileURLWithPath: folder.store + "/outpost.db"))
        let reopened = try run(["list"], folder)
        #expect(reopened.status == 15, "\(reopened.stderr)")
        #expect(reopened.stdout.isEmpty)
    }
}

/// Reads a JSON object printed by `outpost … --json` with Foundation.
enum JSONParserShim {
    static func object(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }
}
