import ArgumentParser
import Crypto
import OutpostStore

extension OutpostCommand {
    /// `outpost encrypt [--passphrase-file F]`: seals a store made before Outpost encrypted stores.
    struct Encrypt: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Encrypt a store made before Outpost encrypted stores, in place.",
            discussion: """
                Makes the keyfile under a new passphrase (--passphrase-file, else \
                $OUTPOST_PASSPHRASE_FILE, else asked twice), then seals every value of the store where \
                it lies, in one transaction: its replica, signing key, change log and settings go on \
                unchanged. Interrupted, the store stays plaintext and whole; run the command again \
                (it then asks for the passphrase of the keyfile it made).
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Option(help: ArgumentHelp("A file whose first line is the new passphrase.", valueName: "file"))
        var passphraseFile: String?

        func run() throws {
            Console.out(try encrypt(at: storeOptions.resolvedPath()))
        }

        /// Encrypts the store at `path` and returns the confirmation.
        func encrypt(at path: String) throws(CLIError) -> String {
            try StoreKeyAccess.requireStore(at: path)
            let alreadyEncrypted: Bool
            do { alreadyEncrypted = try Store.isEncrypted(at: path) } catch { throw CLIError(error) }
            if alreadyEncrypted {
                throw CLIError(.invalidState, "the store at \(path) is already encrypted; nothing was changed")
            }
            let key: SymmetricKey
            if Keyfile.exists(inStore: path) {
                // An earlier `encrypt` made the keyfile and was interrupted before the store was sealed.
                let passphrase = try StoreKeyAccess.currentPassphrase(storeAt: path, passphraseFile: passphraseFile)
                let keyfile = try PassphraseDuty.readKeyfile(at: path)
                key = try StoreKeyAccess.open(keyfile, with: passphrase, storeAt: path)
                // The duress passphrase made a fresh, encrypted store: nothing is left to seal.
                if (try? Store.isEncrypted(at: path)) == true {
                    return "The store at \(path) is encrypted.\n"
                }
            } else {
                let passphrase = try PassphraseReader.newPassphrase(
                    file: passphraseFile, flag: "--passphrase-file", purpose: "passphrase")
                let reporter: String
                do { reporter = try Store.open(at: path).reporter } catch { throw CLIError(error) }
                let dataKey = StoreCipher.randomKey()
                do {
                    try Keyfile.create(
                        passphrase: passphrase, reporter: reporter, dataKey: dataKey, log2N: StoreKeyAccess.newKeyfileCost
                    ).write(inStore: path)
                } catch {
                    throw CLIError(.storage, error.message)
                }
                key = dataKey
            }
            let sealed: Int
            do { sealed = try Store.encryptInPlace(at: path, cipher: try StoreCipher(key: key)) } catch {
                throw CLIError(error)
            }
            return "Encrypted the store at \(path) in place (\(sealed) values sealed); its replica, log and settings "
                + "are unchanged. Commands now ask for the passphrase; `outpost unlock` keeps it open.\n"
        }
    }
}
