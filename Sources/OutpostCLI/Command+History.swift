import ArgumentParser
import OutpostCore
import OutpostStore

extension OutpostCommand {
    /// `outpost history ID [--json]`: every change to an incident.
    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show every change to an incident: who, when, and the fields written.",
            discussion: """
                --json prints an array of {"replica", "counter", "reporter", "time", "writes", "applied"}, \
                oldest first; a delete writes "_deleted": true and a restore "_deleted": false.
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Argument(help: "The incident's id.")
        var id: String

        @Flag(help: "Print a JSON array of changes.")
        var json = false

        func run() throws {
            Console.out(try output(for: storeOptions.openStore()))
        }

        /// The text to print for the incident's history in `store`.
        func output(for store: Store) throws(CLIError) -> String {
            do {
                let entries = try store.history(id: id)
                if entries.isEmpty, try store.incident(id: id) == nil {
                    throw CLIError(.unknownID, "no incident with id \(id)")
                }
                if json { return JSONValue.array(entries.map(\.json)).serialized() + "\n" }
                return HumanFormat.history(entries)
            } catch {
                throw CLIError.from(error)
            }
        }
    }
}
