import ArgumentParser
import OutpostCore
import OutpostStore

extension OutpostCommand {
    /// `outpost config --server URL --token T`: changes the sync server settings.
    struct Config: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change the sync server URL or token (the token is kept only in the store, mode 0600).",
            discussion: """
                --roster-key pins the server's roster key (`outpost-server enroll` prints it) on a device                 enrolled by its key that will not sync before it leaves, so it can verify the roster                 entries peers and bundles bring. A pinned key is never replaced.
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Option(help: ArgumentHelp("The sync server's URL (http:// or https://).", valueName: "url"))
        var server: String?

        // Unconditional: a token may start with "-" (URL-safe base64).
        @Option(
            parsing: .unconditional, help: ArgumentHelp("The device token `outpost-server enroll` printed.", valueName: "token"))
        var token: String?

        @Option(
            name: .customLong("ca-file"),
            help: ArgumentHelp("A PEM file of the private CA that signed the server's certificate.", valueName: "file"))
        var caFile: String?

        // Unconditional: a base64url key may start with "-".
        @Option(
            name: .customLong("roster-key"), parsing: .unconditional,
            help: ArgumentHelp("The server's roster key (unpadded base64url), to pin it before the first sync.", valueName: "key")
        )
        var rosterKey: String?

        func validate() throws {
            if server == nil && token == nil && caFile == nil && rosterKey == nil {
                throw ValidationError("give --server, --token, --ca-file or --roster-key")
            }
        }

        func run() throws {
            Console.out(try apply(to: storeOptions.openStore()))
        }

        /// Saves the settings and returns the confirmation text.
        func apply(to store: Store) throws(CLIError) -> String {
            var values: [String: String?] = [:]
            if let server {
                _ = try ServerURL.checked(server)
                values["server_url"] = server
                // A different server has a different log: start pulling from its beginning.
                if (try? store.setting("server_url")) != server {
                    values["server_changed"] = "1"
                }
            }
            if let token {
                guard !token.isEmpty, !token.contains(where: { $0.isWhitespace }) else {
                    throw CLIError(.invalidInput, "token: must be non-empty without spaces")
                }
                values["server_token"] = token
            }
            if let caFile { values["server_ca_file"] = caFile }
            var pinnedKey: [UInt8]?
            if let rosterKey {
                guard let key = Base64URL.decode(rosterKey), key.count == 32 else {
                    throw CLIError(
                        .invalidInput, "--roster-key: must be a 32-byte Ed25519 public key in unpadded base64url (43 characters)")
                }
                pinnedKey = key
            }
            do {
                if let pinnedKey { try store.pinRosterKey(pinnedKey) }
                let changedServer = values.removeValue(forKey: "server_changed") != nil
                try store.setSettings(values)
                if changedServer {
                    try store.setIntegerSetting(OutpostSyncKeys.pullCursor, 0)
                    try store.setIntegerSetting(OutpostSyncKeys.ackedCounter, 0)
                    try store.setIntegerSetting(OutpostSyncKeys.rosterAfter, 0)
                    try store.setSettings([OutpostSyncKeys.pullCursorDot: nil])
                }
            } catch {
                throw CLIError(error)
            }
            if pinnedKey != nil && values.isEmpty { return "Pinned the server's roster key.\n" }
            return pinnedKey == nil
                ? "Saved the sync settings.\n" : "Saved the sync settings and pinned the server's roster key.\n"
        }
    }
}
