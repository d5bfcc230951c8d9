import ArgumentParser
import OutpostCore
import OutpostStore

extension OutpostCommand {
    /// `outpost status [--json]`: replica id, reporter, counts and changes not yet synced.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the store's replica id, reporter, incidents and changes not yet synced.",
            discussion: """
                --json prints {"replica", "reporter", "incidents", "conflicts", "unsynced_changes", \
                "own_changes", "held_back_changes", "total_changes", "server"}.
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Flag(help: "Print a JSON object.")
        var json = false

        func run() throws {
            Console.out(try output(for: storeOptions.openStore()))
        }

        /// The text to print for `store`.
        func output(for store: Store) throws(CLIError) -> String {
            let status: StoreStatus
            do { status = try store.status() } catch { throw CLIError.from(error) }
            if json { return status.json.serialized() + "\n" }
            return HumanFormat.status(status, path: store.directory)
        }
    }
}
