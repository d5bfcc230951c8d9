import ArgumentParser
import Foundation
import OutpostStore

/// The `--store DIR` option every command shares.
public struct StoreOptions: ParsableArguments {
    /// The store folder given on the command line.
    @Option(
        name: .customLong("store"),
        help: ArgumentHelp(
            "The store folder (default: $OUTPOST_STORE, else ~/.outpost).", valueName: "dir"))
    public var store: String?

    /// Makes empty options.
    public init() {}

    /// The store folder: `--store`, else `$OUTPOST_STORE`, else `~/.outpost`, with `~` expanded.
    public func resolvedPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        let raw: String
        if let store, !store.isEmpty {
            raw = store
        } else if let fromEnvironment = environment["OUTPOST_STORE"], !fromEnvironment.isEmpty {
            raw = fromEnvironment
        } else {
            raw = "~/.outpost"
        }
        if raw == "~" { return home }
        if raw.hasPrefix("~/") { return home + raw.dropFirst(1) }
        return raw
    }

    /// Opens the store, failing with exit 3 when there is none and 15 when it is locked by its
    /// passphrase (`StoreKeyAccess`); its WAL is checkpointed and truncated when the command ends
    /// (`OpenedStores`).
    public func openStore() throws(CLIError) -> Store {
        OpenedStores.shared.register(try StoreKeyAccess.openStore(at: resolvedPath()))
    }
}

/// The sync server URL rule `init` and `config` share.
enum ServerURL {
    /// The URL when it is http:// or https:// with a host; else an error naming the problem (exit 6).
    static func checked(_ url: String) throws(CLIError) -> String {
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), url.count > 8 else {
            throw CLIError(.invalidInput, "server: must be an http:// or https:// URL (got \"\(url)\")")
        }
        return url
    }
}
