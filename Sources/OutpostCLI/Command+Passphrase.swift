import ArgumentParser
import Crypto
import OutpostStore

extension OutpostCommand {
    /// `outpost passphrase change`: the store's passphrase.
    struct Passphrase: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change the passphrase of an encrypted store.", subcommands: [Change.self])

        /// `outpost passphrase change [--passphrase-file OLD] [--new-passphrase-file NEW]`.
        struct Change: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Wrap the store's key under a new passphrase (no row is rewritten).",
                discussion: """
                    The current passphrase comes from --passphrase-file, else $OUTPOST_PASSPHRASE_FILE, \
                    else the terminal; the new one from --new-passphrase-file, else the terminal (twice). \
                    Afterwards the old passphrase opens nothing. The keyfile is replaced, so a running \
                    unlock agent forgets the key: unlock again with the new passphrase.
                    """)

            @OptionGroup var storeOptions: StoreOptions

            @Option(help: ArgumentHelp("A file whose first line is the current passphrase.", valueName: "file"))
            var passphraseFile: String?

            @Option(help: ArgumentHelp("A file whose first line is the new passphrase.", valueName: "file"))
            var newPassphraseFile: String?

            func run() throws {
                Console.out(try change(at: storeOptions.resolvedPath()))
            }

            /// Re-wraps the key and returns the confirmation.
            func change(at path: String) throws(CLIError) -> String {
                // Checks the passphrase (slowing wrong ones; the duress passphrase does its work).
                let old = try PassphraseDuty.checkedPassphrase(at: path, passphraseFile: passphraseFile)
                let new = try PassphraseReader.newPassphrase(
                    file: newPassphraseFile, flag: "--new-passphrase-file", purpose: "passphrase", useEnvironment: false)
                // Read after the check: the duress passphrase replaced the keyfile.
                let current = try PassphraseDuty.readKeyfile(at: path)
                do {
                    try current
                        .rewrapped(dataKey: old.key, newPassphrase: new, reporter: old.reporter, log2N: current.log2N)
                        .write(inStore: path)
                } catch {
                    throw CLIError(.storage, error.message)
                }
                return "Changed the passphrase of the store at \(path); the old one opens nothing now.\n"
            }
        }
    }

    /// `outpost duress set|clear`: a second passphrase that wipes the store when entered.
    struct Duress: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Set or clear a duress passphrase, which silently wipes the store when entered.",
            discussion: """
                Entered anywhere the passphrase is asked (a prompt, $OUTPOST_PASSPHRASE_FILE, \
                `outpost unlock`), the duress passphrase destroys the store as `outpost wipe` does and \
                makes a fresh, empty store for the same reporter name whose passphrase it then is, \
                without saying so. The keyfile does not show whether one is set.
                """,
            subcommands: [Set.self, Clear.self])

        /// `outpost duress set [--passphrase-file F] [--duress-passphrase-file D]`.
        struct Set: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Record a duress passphrase.")

            @OptionGroup var storeOptions: StoreOptions

            @Option(help: ArgumentHelp("A file whose first line is the store's passphrase.", valueName: "file"))
            var passphraseFile: String?

            @Option(help: ArgumentHelp("A file whose first line is the duress passphrase.", valueName: "file"))
            var duressPassphraseFile: String?

            func run() throws {
                let path = storeOptions.resolvedPath()
                let passphrase = try PassphraseDuty.checkedPassphrase(at: path, passphraseFile: passphraseFile)
                let duress = try PassphraseReader.newPassphrase(
                    file: duressPassphraseFile, flag: "--duress-passphrase-file", purpose: "duress passphrase",
                    useEnvironment: false)
                guard duress != passphrase.text else {
                    throw CLIError(.invalidInput, "the duress passphrase must differ from the passphrase; nothing was changed")
                }
                let current = try PassphraseDuty.readKeyfile(at: path)
                do {
                    try current.withDuress(duressPassphrase: duress, reporter: passphrase.reporter).write(inStore: path)
                } catch {
                    throw CLIError(.storage, error.message)
                }
                Console.out("Set the duress passphrase of the store at \(path). Entering it wipes the store.\n")
            }
        }

        /// `outpost duress clear [--passphrase-file F]`.
        struct Clear: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Forget the duress passphrase.")

            @OptionGroup var storeOptions: StoreOptions

            @Option(help: ArgumentHelp("A file whose first line is the store's passphrase.", valueName: "file"))
            var passphraseFile: String?

            func run() throws {
                let path = storeOptions.resolvedPath()
                // Only the store's passphrase may disarm it (the duress one wipes, as anywhere).
                _ = try PassphraseDuty.checkedPassphrase(at: path, passphraseFile: passphraseFile)
                let current = try PassphraseDuty.readKeyfile(at: path)
                do { try current.withoutDuress().write(inStore: path) } catch {
                    throw CLIError(.storage, error.message)
                }
                Console.out("Cleared the duress passphrase of the store at \(path).\n")
            }
        }
    }
}

/// What the passphrase commands share.
enum PassphraseDuty {
    /// The store's keyfile, or an error saying there is none.
    static func readKeyfile(at path: String) throws(CLIError) -> Keyfile {
        do { return try Keyfile.read(inStore: path) } catch { throw CLIError(.storage, "\(error.message) (store \(path))") }
    }

    /// The store's reporter name, read with its key.
    static func reporter(at path: String, key: SymmetricKey) throws(CLIError) -> String {
        do { return try Store.open(at: path, cipher: StoreKeyAccess.cipher(key)).reporter } catch {
            throw CLIError.from(error)
        }
    }

    /// The passphrase, checked against the keyfile (the duress passphrase does its work and then
    /// stands for the fresh store's passphrase), with the data key it opened and the store's
    /// reporter name.
    static func checkedPassphrase(
        at path: String, passphraseFile: String?
    ) throws(CLIError) -> (text: String, key: SymmetricKey, reporter: String) {
        try StoreKeyAccess.requireStore(at: path)
        guard Keyfile.exists(inStore: path) else {
            throw CLIError(.invalidState, "the store at \(path) is not encrypted (an older store), so it has no passphrase")
        }
        let passphrase = try StoreKeyAccess.currentPassphrase(storeAt: path, passphraseFile: passphraseFile)
        let key = try StoreKeyAccess.open(try readKeyfile(at: path), with: passphrase, storeAt: path)
        return (passphrase, key, try reporter(at: path, key: key))
    }
}
