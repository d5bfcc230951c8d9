import Crypto
import Foundation
import OutpostStore

/// How a command gets the data key of an encrypted store: from the unlock agent, else from the
/// passphrase (`$OUTPOST_PASSPHRASE_FILE`, else asked on the terminal), else it fails with exit
/// 15 and says how to unlock. A store without a keyfile is an older, plaintext store.
enum StoreKeyAccess {
    /// Opens the store at `path` with its key when it is encrypted (`StoreOptions.openStore`).
    static func openStore(at path: String) throws(CLIError) -> Store {
        try requireStore(at: path)
        let cipher = try self.cipher(forStoreAt: path)
        let store: Store
        do { store = try Store.open(at: path, cipher: cipher) } catch { throw CLIError(error) }
        // A keyfile beside a plaintext database: the database was swapped for one someone made, and
        // what the reporter records next would be written in the clear. Refuse it.
        if cipher != nil && !store.isEncrypted {
            throw CLIError(
                .storage,
                "the store at \(path) has a keyfile but its database is not encrypted: if `outpost encrypt` was interrupted, run it again; otherwise the database was replaced, so nothing was written (move it aside and investigate)"
            )
        }
        return store
    }

    /// Fails with exit 3 when there is no store at `path`.
    static func requireStore(at path: String) throws(CLIError) {
        guard Store.exists(at: path) else {
            throw CLIError(.storeMissing, "no Outpost store at \(path) (run `outpost init --reporter NAME` first)")
        }
    }

    /// The store's cipher, or nil when it has no keyfile (a plaintext store of an older Outpost).
    static func cipher(forStoreAt path: String) throws(CLIError) -> StoreCipher? {
        guard Keyfile.exists(inStore: path) else { return nil }
        if let key = AgentClient.dataKey(forStoreAt: path) { return try cipher(key) }
        return try cipher(dataKeyFromPassphrase(storeAt: path, passphraseFile: nil))
    }

    /// The store's cipher when its key is at hand without asking: from the agent or
    /// `$OUTPOST_PASSPHRASE_FILE`. Nil when neither gives it (`wipe` goes on without it).
    static func cipherWithoutAsking(forStoreAt path: String) -> StoreCipher? {
        guard Keyfile.exists(inStore: path) else { return nil }
        if let key = AgentClient.dataKey(forStoreAt: path) { return try? cipher(key) }
        guard let file = PassphraseReader.environmentFile(),
            let passphrase = try? PassphraseReader.read(file: file, what: "$\(PassphraseReader.environmentVariable)"),
            let keyfile = try? Keyfile.read(inStore: path),
            case .dataKey(let key) = try? keyfile.unlock(passphrase: passphrase)
        else { return nil }
        return try? cipher(key)
    }

    /// The data key from the passphrase: `passphraseFile`, else `$OUTPOST_PASSPHRASE_FILE`, else
    /// up to three tries on the terminal. The duress passphrase wipes the store and makes a fresh
    /// one, silently, and gives that one's key. A wrong passphrase waits longer each time.
    static func dataKeyFromPassphrase(storeAt path: String, passphraseFile: String?) throws(CLIError) -> SymmetricKey {
        let keyfile: Keyfile
        do { keyfile = try Keyfile.read(inStore: path) } catch {
            throw CLIError(error.kind == .storage ? .storage : .passphraseLocked, "\(error.message) (store \(path))")
        }
        if let file = passphraseFile ?? PassphraseReader.environmentFile() {
            let what = passphraseFile == nil ? "$\(PassphraseReader.environmentVariable)" : "--passphrase-file"
            return try open(keyfile, with: try PassphraseReader.read(file: file, what: what), storeAt: path)
        }
        guard PassphraseReader.canPrompt else {
            throw CLIError(
                .passphraseLocked,
                "the store at \(path) is locked by its passphrase: run `outpost unlock` first (or set $\(PassphraseReader.environmentVariable) to a file holding it)"
            )
        }
        var tries = 0
        while true {
            tries += 1
            do {
                return try open(keyfile, with: try PassphraseReader.prompt("Passphrase for \(path): "), storeAt: path)
            } catch let error where error.code == .passphraseLocked && tries < 3 {
                Console.err("outpost: \(error.message)")
            }
        }
    }

    /// The current passphrase for a command that needs the passphrase itself (not only the key):
    /// `passphraseFile`, else `$OUTPOST_PASSPHRASE_FILE`, else asked once on the terminal.
    static func currentPassphrase(storeAt path: String, passphraseFile: String?) throws(CLIError) -> String {
        if let file = passphraseFile { return try PassphraseReader.read(file: file, what: "--passphrase-file") }
        if let file = PassphraseReader.environmentFile() {
            return try PassphraseReader.read(file: file, what: "$\(PassphraseReader.environmentVariable)")
        }
        guard PassphraseReader.canPrompt else {
            throw CLIError(
                .passphraseLocked,
                "no terminal to ask for the passphrase of the store at \(path): pass --passphrase-file FILE or set $\(PassphraseReader.environmentVariable)"
            )
        }
        return try PassphraseReader.prompt("Passphrase for \(path): ")
    }

    /// Opens `keyfile` with `passphrase`, counting and slowing wrong tries; the duress passphrase
    /// wipes the store and gives a fresh one's key.
    static func open(_ keyfile: Keyfile, with passphrase: String, storeAt path: String) throws(CLIError) -> SymmetricKey {
        let unlocked: Keyfile.Unlocked
        do { unlocked = try keyfile.unlock(passphrase: passphrase) } catch {
            guard error.kind == .wrongPassphrase else { throw CLIError(.passphraseLocked, "\(error.message) (store \(path))") }
            let failures = WrongPassphraseDelay.recordFailure(storeAt: path)
            WrongPassphraseDelay.wait(afterFailures: failures)
            throw CLIError(
                .passphraseLocked,
                "wrong passphrase for the store at \(path) (\(failures) wrong tr\(failures == 1 ? "y" : "ies") in a row; each waits longer)"
            )
        }
        WrongPassphraseDelay.reset(storeAt: path)
        switch unlocked {
        case .dataKey(let key): return key
        case .duress(let reporter):
            return try DuressResponse.wipeAndStartOver(at: path, reporter: reporter, passphrase: passphrase)
        }
    }

    static func cipher(_ key: SymmetricKey) throws(CLIError) -> StoreCipher {
        do { return try StoreCipher(key: key) } catch { throw CLIError(error) }
    }

    /// The scrypt cost for new keyfiles: `Keyfile.standardLog2N`, or less when
    /// `$OUTPOST_KDF_LOG2N_FOR_TESTS` says so (10…17; tests only, `outpost status` shows it).
    static var newKeyfileCost: UInt8 {
        guard let text = ProcessInfo.processInfo.environment["OUTPOST_KDF_LOG2N_FOR_TESTS"], let value = UInt8(text),
            (10...Keyfile.standardLog2N).contains(value)
        else { return Keyfile.standardLog2N }
        return value
    }

    /// Makes an encrypted store at `path`: its keyfile first (so no store is ever without one),
    /// then the database; a failure removes the keyfile again.
    static func createStore(
        at path: String, reporter: String, passphrase: String, settings: [String: String] = [:]
    ) throws(CLIError) -> (store: Store, key: SymmetricKey) {
        if Store.exists(at: path) {
            throw CLIError(.alreadyExists, "a store already exists at \(path); nothing was changed")
        }
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw CLIError(.storage, "cannot create the store folder \(path): \(error.localizedDescription)")
        }
        let key = StoreCipher.randomKey()
        let trimmed = reporter.trimmingCharacters(in: .whitespacesAndNewlines)
        do {
            try Keyfile.create(passphrase: passphrase, reporter: trimmed, dataKey: key, log2N: newKeyfileCost)
                .write(inStore: path)
        } catch {
            throw CLIError(.storage, error.message)
        }
        do {
            let store = try Store.create(at: path, reporter: reporter, settings: settings, cipher: try StoreCipher(key: key))
            return (store, key)
        } catch {
            if !Store.exists(at: path) { _ = try? Keyfile.destroy(inStore: path) }
            throw CLIError(error)
        }
    }
}
