import ArgumentParser
import Foundation
import OutpostCurl
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

/// The sync server URL rule `init`, `config` and `sync` share.
enum ServerURL {
    /// The store setting that allows plain `http://` to a host other than loopback (`"1"`);
    /// `init` and `config --server` set it from `--allow-insecure-http` for the URL they store.
    static let allowInsecureHTTPKey = "server_allow_insecure_http"

    /// The store setting that holds the server's pinned TLS key(s) (`SPKIPins`).
    static let pinKey = "server_pin"

    /// The URL when it is http:// or https:// with a host, and http:// only to loopback
    /// (localhost, 127.0.0.0/8, ::1) unless `allowInsecureHTTP`, and never http:// with a pin
    /// (`pinned`), which only TLS can check; else an error naming the problem (exit 6).
    static func checked(_ url: String, allowInsecureHTTP: Bool, pinned: Bool = false) throws(CLIError) -> String {
        guard url.hasPrefix("http://") || url.hasPrefix("https://"), url.count > 8,
            let parts = URLHost.parts(of: url), !parts.host.isEmpty
        else {
            throw CLIError(.invalidInput, "server: must be an http:// or https:// URL with a host (got \"\(url)\")")
        }
        if parts.scheme == "http" && pinned {
            throw CLIError(
                .invalidInput, "server: a TLS key is pinned (--pin) but \(url) is plain http://; use the server's https:// URL")
        }
        if parts.scheme == "http" && !URLHost.isLoopback(parts.host) && !allowInsecureHTTP {
            throw CLIError(
                .invalidInput,
                "server: http:// to \(parts.host) would send the token and reports in clear text; use https:// "
                    + "(`outpost-server serve --tls-cert`, pinned with --pin), or give --allow-insecure-http "
                    + "to `outpost init` or `outpost config --server` on purpose")
        }
        return url
    }

    /// `pin` when it has the form `SPKIPins` describes; else an error (exit 6).
    static func checkedPin(_ pin: String) throws(CLIError) -> String {
        guard SPKIPins.isValid(pin) else { throw CLIError(.invalidInput, "--pin: \(SPKIPins.rule) (got \"\(pin)\")") }
        return pin
    }
}
