import ArgumentParser
import OutpostCore
import OutpostStore

extension OutpostCommand {
    /// `outpost list [--json] [--deleted]`: the incidents, oldest first.
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List incidents, oldest first.",
            discussion: """
                The table marks incidents in conflict with `!` and those holding work of a device the roster \
                does not name yet with `unverified`; --json prints an array of `show --json` objects.
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Flag(help: "Print a JSON array of incident objects.")
        var json = false

        @Flag(help: "Include deleted incidents.")
        var deleted = false

        func run() throws {
            let store = try storeOptions.openStore()
            let out = OutputBuffer.standardOutput()
            try write(store, to: out)
            out.flush()
        }

        /// Writes the listing of `store` to `out`.
        func write(_ store: Store, to out: OutputBuffer) throws(CLIError) {
            do {
                if json {
                    let conflicts = try Dictionary(store.conflicts().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
                    out.append("[")
                    var first = true
                    try store.forEachIncident(includeDeleted: deleted) { record in
                        let object = IncidentJSON.object(
                            record, conflicts: conflicts[record.id].map(IncidentJSON.conflicts(of:)) ?? [])
                        let comma = !first
                        out.append { bytes in
                            if comma { bytes.append(UInt8(ascii: ",")) }
                            object.write(to: &bytes)
                        }
                        first = false
                    }
                    out.append("]\n")
                } else {
                    let records = try store.incidents(includeDeleted: deleted)
                    out.append(
                        records.isEmpty
                            ? "No incidents.\n" : HumanFormat.list(records, unverified: try store.unverifiedIncidentIDs()))
                }
            } catch {
                throw CLIError.from(error)
            }
        }
    }
}
