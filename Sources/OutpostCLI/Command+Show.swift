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
                "created_at", "updated_at", "unverified"}; "conflicts" maps each field in conflict to its values, \
                shown one first; "unverified" is true when a current value comes from a device the roster does \
                not name yet.
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
                let unverified = try store.unverifiedIncidentIDs().contains(id)
                if json { return IncidentJSON.object(record, conflicts: conflicts, unverified: unverified).serialized() + "\n" }
                return HumanFormat.show(record, conflicts: conflicts, unverified: unverified, authors: try store.authorNames())
            } catch {
                throw CLIError.from(error)
            }
        }
    }
}
