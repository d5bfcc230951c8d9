import ArgumentParser
import OutpostCore
import OutpostStore

extension OutpostCommand {
    /// `outpost roster [--json]`: the enrolled replicas this device knows, as the server signed them.
    struct Roster: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the roster: which reporter each known replica (device) belongs to.",
            discussion: """
                The roster comes from the server with every sync and travels in bundles and \
                device-to-device syncs; an entry counts only with the signature of the server key this \
                device pinned. A change is "verified" when its author replica is in the roster and its \
                signature holds. --json prints an array of {"replica", "key", "reporter", "status", "version"}.
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Flag(help: "Print a JSON array of entries.")
        var json = false

        func run() throws {
            Console.out(try output(for: storeOptions.openStore()))
        }

        /// The text to print for `store`.
        func output(for store: Store) throws(CLIError) -> String {
            let entries: [RosterEntry]
            let rosterKey: [UInt8]?
            do {
                entries = try store.roster()
                rosterKey = try store.rosterKey()
            } catch {
                throw CLIError(error)
            }
            if json {
                return JSONValue.array(
                    entries.map { entry in
                        .object([
                            "replica": .string(entry.replica.hex), "key": .string(Base64URL.encode(entry.key)),
                            "reporter": .string(entry.reporter), "status": .string(entry.status.rawValue),
                            "version": .int(Int64(clamping: entry.version)),
                        ])
                    }
                ).serialized() + "\n"
            }
            let own = store.replica
            let rows = entries.map { entry -> [String] in
                [
                    entry.replica.hex, entry.reporter, entry.status.rawValue, String(entry.version),
                    entry.replica == own ? "this device" : (entry.sig == nil ? "trusted locally" : "server-signed"),
                ]
            }
            let keyLine =
                "server roster key: "
                + (rosterKey.map(Base64URL.encode) ?? "(not pinned yet: sync once, or `outpost config --roster-key KEY`)")
            return TableRenderer(header: ["REPLICA", "REPORTER", "STATUS", "VERSION", "SOURCE"]).render(rows) + keyLine + "\n"
        }
    }
}
