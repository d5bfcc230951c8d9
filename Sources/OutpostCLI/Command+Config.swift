import ArgumentParser
import Foundation
import OutpostCore
import OutpostStore

extension OutpostCommand {
    /// `outpost config --server URL --token T`: changes the sync server settings.
    struct Config: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change the sync server URL or token (the token is kept only in the store, mode 0600).",
            discussion: """
                --pin sha256//… (printed by `outpost-server cert`; several joined by ;) pins the server's \
                TLS key: sync then refuses any other key (exit 16) and needs no CA; without a pin the \
                server's certificate must chain to a trusted CA (or --ca-file). http:// is refused for any \
                host but loopback (localhost, 127.0.0.0/8, ::1) unless --allow-insecure-http is given; \
                the store keeps that choice until the next --server.

                --roster-key pins the server's roster key (`outpost-server enroll` prints it) on a device \
                enrolled by its key that will not sync before it leaves, so it can verify the roster \
                entries peers and bundles bring. A pinned key is never replaced.

                --parcel-key pins the server's parcel key, the third line `outpost-server enroll \
                --replica --key` prints (KEY.SIGNATURE): the roster key must be pinned (before, or \
                with --roster-key in the same command) and must have signed it. This device can then \
                seal, for the server alone, the work of others it carries but may not read. A sync \
                pins it too; a pinned key is never replaced.
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Option(help: ArgumentHelp("The sync server's URL (https://; http:// only to loopback).", valueName: "url"))
        var server: String?

        @Option(help: ArgumentHelp("The server's TLS key pin, sha256//… as `outpost-server cert` prints it.", valueName: "pin"))
        var pin: String?

        @Flag(help: "Allow a plain http:// server URL to a host other than loopback (reports cross the network in clear).")
        var allowInsecureHttp = false

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

        // Unconditional: a base64url key may start with "-".
        @Option(
            name: .customLong("parcel-key"), parsing: .unconditional,
            help: ArgumentHelp("The server's parcel key as `outpost-server enroll` printed it.", valueName: "key.sig")
        )
        var parcelKey: String?

        func validate() throws {
            if server == nil && token == nil && caFile == nil && rosterKey == nil && parcelKey == nil && pin == nil
                && !allowInsecureHttp
            {
                throw ValidationError(
                    "give --server, --token, --pin, --ca-file, --roster-key, --parcel-key or --allow-insecure-http")
            }
        }

        /// The key and signature of `--parcel-key` text: `<b64u key>.<b64u signature>`, as the
        /// `parcel key:` line of `outpost-server enroll` gives them (that label may come along).
        static func parcelKeyParts(_ text: String) throws(CLIError) -> (key: [UInt8], signature: [UInt8]) {
            var text = text.trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("parcel key:") { text = String(text.dropFirst(11)).trimmingCharacters(in: .whitespaces) }
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw CLIError(
                    .invalidInput,
                    "--parcel-key: must be KEY.SIGNATURE (two base64url parts joined by a dot), as `outpost-server enroll` printed it"
                )
            }
            guard let key = Base64URL.decode(String(parts[0])), key.count == 32 else {
                throw CLIError(
                    .invalidInput,
                    "--parcel-key: the key must be a 32-byte X25519 public key in unpadded base64url (43 characters)")
            }
            guard let signature = Change.signature(fromText: String(parts[1])) else {
                throw CLIError(
                    .invalidInput,
                    "--parcel-key: the signature must be a 64-byte Ed25519 signature in unpadded base64url (86 characters)")
            }
            return (key, signature)
        }

        /// Refuses a parcel key that the roster key (`rosterKey`, given in the same command, else
        /// the pinned one) did not sign, or that is not the parcel key pinned already.
        static func checkParcelKey(
            _ parcelKey: (key: [UInt8], signature: [UInt8]), rosterKey: [UInt8]?, in store: Store
        ) throws(CLIError) {
            let roster: [UInt8]?
            let pinned: [UInt8]?
            do {
                if let rosterKey { roster = rosterKey } else { roster = try store.rosterKey() }
                pinned = try store.parcelKey()?.key
            } catch {
                throw CLIError(error)
            }
            guard let roster else {
                throw CLIError(
                    .invalidState,
                    "--parcel-key: the server's roster key is not pinned, so the parcel key cannot be checked; give --roster-key too (the second line `outpost-server enroll` printed), or sync once. Nothing was changed"
                )
            }
            guard SignatureCheck.isValid(parcelKey.signature, of: Store.parcelKeyStatement(parcelKey.key), publicKey: roster)
            else {
                throw CLIError(
                    .invalidInput,
                    "--parcel-key: the parcel key is not signed by the server's roster key \(Base64URL.encode(roster)); copy both lines from the same `outpost-server enroll`. Nothing was changed"
                )
            }
            if let pinned, pinned != parcelKey.key {
                throw CLIError(
                    .invalidState,
                    "--parcel-key: this device pinned another parcel key (\(Base64URL.encode(pinned))); a pinned key is never replaced. Nothing was changed"
                )
            }
        }

        func run() throws {
            Console.out(try apply(to: storeOptions.openStore()))
        }

        /// Whether the store allows its http:// server URL to a host other than loopback.
        private func allowInsecureHttpStored(_ store: Store) throws(CLIError) -> Bool {
            do { return try store.setting(ServerURL.allowInsecureHTTPKey) == "1" } catch { throw CLIError(error) }
        }

        /// Saves the settings and returns the confirmation text.
        func apply(to store: Store) throws(CLIError) -> String {
            var values: [String: String?] = [:]
            let storedURL: String?
            let storedPin: String?
            do {
                storedURL = try store.setting("server_url")
                storedPin = try store.setting(ServerURL.pinKey)
            } catch {
                throw CLIError(error)
            }
            if let pin { values[ServerURL.pinKey] = try ServerURL.checkedPin(pin) }
            let pinned = (pin ?? storedPin) != nil
            if let server {
                _ = try ServerURL.checked(server, allowInsecureHTTP: allowInsecureHttp, pinned: pinned)
                values["server_url"] = server
                // The choice belongs to the URL it was made for: a new --server without the flag clears it.
                let insecure: String? = allowInsecureHttp ? "1" : nil
                values[ServerURL.allowInsecureHTTPKey] = .some(insecure)
                // A different server has a different log: start pulling from its beginning.
                if (try? store.setting("server_url")) != server {
                    values["server_changed"] = "1"
                }
            } else if let storedURL, allowInsecureHttp || pin != nil {
                let allowed = try allowInsecureHttpStored(store) || allowInsecureHttp
                _ = try ServerURL.checked(storedURL, allowInsecureHTTP: allowed, pinned: pinned)
                if allowInsecureHttp { values[ServerURL.allowInsecureHTTPKey] = "1" }
            } else if allowInsecureHttp {
                throw CLIError(.invalidInput, "--allow-insecure-http: no server URL is set; give it with --server")
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
            let vouchedParcelKey = try parcelKey.map { text throws(CLIError) in try Config.parcelKeyParts(text) }
            // Checked before anything is written, so a refused parcel key leaves the store as it was.
            if let vouchedParcelKey { try Config.checkParcelKey(vouchedParcelKey, rosterKey: pinnedKey, in: store) }
            do {
                if let pinnedKey { try store.pinRosterKey(pinnedKey) }
                if let vouchedParcelKey {
                    try store.pinParcelKey(vouchedParcelKey.key, signature: vouchedParcelKey.signature)
                }
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
            var pinnedNames: [String] = []
            if pinnedKey != nil { pinnedNames.append("roster key") }
            if vouchedParcelKey != nil { pinnedNames.append("parcel key") }
            let keys = pinnedNames.isEmpty ? "" : "the server's " + pinnedNames.joined(separator: " and ")
            if !pinnedNames.isEmpty && values.isEmpty { return "Pinned \(keys).\n" }
            return pinnedNames.isEmpty ? "Saved the sync settings.\n" : "Saved the sync settings and pinned \(keys).\n"
        }
    }
}
