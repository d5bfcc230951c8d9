import ArgumentParser
import OutpostCore
import OutpostStore

extension OutpostCommand {
    /// `outpost init --reporter NAME [--server URL --token T [--pin P] [--allow-insecure-http]]
    /// [--passphrase-file F]`: creates the
    /// store, encrypted under a passphrase.
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a new encrypted store (fails, changing nothing, when one exists).",
            discussion: """
                The store's contents are encrypted with a random key, which a passphrase protects \
                (scrypt, N = 2^17). On a terminal it is asked twice, without echo; elsewhere it comes \
                from --passphrase-file F or $OUTPOST_PASSPHRASE_FILE (the file's first line). \
                At least 8 characters. Nobody can recover a forgotten passphrase.

                --pin sha256//… (printed by `outpost-server cert`) pins the server's TLS key: sync then \
                refuses any other key (exit 16) and needs no CA. http:// is refused for any host but \
                loopback (localhost, 127.0.0.0/8, ::1) unless --allow-insecure-http is given; the store \
                keeps that choice for its server URL.
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Option(help: ArgumentHelp("Your name, recorded with every change you make (1–100 characters).", valueName: "name"))
        var reporter: String

        @Option(help: ArgumentHelp("The sync server's URL (https://; http:// only to loopback).", valueName: "url"))
        var server: String?

        @Option(help: ArgumentHelp("The server's TLS key pin, sha256//… as `outpost-server cert` prints it.", valueName: "pin"))
        var pin: String?

        @Flag(help: "Allow a plain http:// server URL to a host other than loopback (reports cross the network in clear).")
        var allowInsecureHttp = false

        // Unconditional: a token may start with "-" (URL-safe base64).
        @Option(parsing: .unconditional, help: ArgumentHelp("The sync server's access token.", valueName: "token"))
        var token: String?

        @Option(
            help: ArgumentHelp(
                "A file whose first line is the new store's passphrase (else $OUTPOST_PASSPHRASE_FILE, else asked).",
                valueName: "file"))
        var passphraseFile: String?

        func validate() throws {
            if token != nil && server == nil { throw ValidationError("--token needs --server") }
            if pin != nil && server == nil { throw ValidationError("--pin needs --server") }
            if allowInsecureHttp && server == nil { throw ValidationError("--allow-insecure-http needs --server") }
        }

        func run() throws {
            Console.out(try create(at: storeOptions.resolvedPath()))
        }

        /// Creates the store at `path` and returns the confirmation text.
        func create(at path: String) throws(CLIError) -> String {
            var settings: [String: String] = [:]
            if let pin { settings[ServerURL.pinKey] = try ServerURL.checkedPin(pin) }
            if let server {
                _ = try ServerURL.checked(server, allowInsecureHTTP: allowInsecureHttp, pinned: pin != nil)
                settings["server_url"] = server
                if allowInsecureHttp { settings[ServerURL.allowInsecureHTTPKey] = "1" }
            }
            if let token { settings["server_token"] = token }
            guard Change.isValidReporterName(reporter.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw CLIError(.invalidInput, Change.reporterNameRule)
            }
            if Store.exists(at: path) {
                throw CLIError(.alreadyExists, "a store already exists at \(path); nothing was changed")
            }
            let passphrase = try PassphraseReader.newPassphrase(
                file: passphraseFile, flag: "--passphrase-file", purpose: "passphrase")
            let store = OpenedStores.shared.register(
                try StoreKeyAccess.createStore(at: path, reporter: reporter, passphrase: passphrase, settings: settings).store)
            do {
                return
                    "Created an encrypted Outpost store at \(path) (replica \(store.replica.hex), reporter \(try store.reporter)).\n"
                    + "Commands ask for its passphrase; `outpost unlock` keeps it open for 15 minutes, `outpost lock` closes it.\n"
            } catch {
                throw CLIError.from(error)
            }
        }
    }
}
