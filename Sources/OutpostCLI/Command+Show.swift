import ArgumentParser
import OutpostCore
import OutpostStore

extension OutpostCommand {
    /// `outpost show ID [--json]`: one incident's fields (and conflicts).
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one incident.",
            discussion: """
                --json prints {"id", "fields": {field: value}, "deleted", "conflict", "conflicts", \
                "created_at", "updated_at"}; "conflicts" maps each field in conflict to its values, shown one first \
                (the same object `export` writes). The text form says when a current value comes from a device \
                the roster does not name yet (unverified); `history ID --json` gives each change's verification.
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Argument(help: "The incident's id.")
        var id: String

        @Flag(help: "Print a JSON object.")
        var json = false

        func run() throws {
            Console.out(try output(for: storeOptions.openStore()))
        }

        /// The text to print for the incident in `store`.
        func output(for store: Store) throws(CLIError) -> String {
            do {
                guard let record = try store.incident(id: id) else {
                    throw CLIError(.unknownID, "no incident with id \(id)")
                }
                let conflicts = IncidentJSON.conflicts(of: try store.recordState(id: id))
                if json { return IncidentJSON.object(record, conflicts: conflicts).serialized() + "\n" }
                let unverified = try store.unverifiedIncidentIDs().contains(id)
                return HumanFormat.show(record, conflicts: conflicts, unverified: unverified, authors: try store.authorNames())
            } catch {
                throw CLIError.from(error)
            }
        }
    }
}
