import ArgumentParser
import OutpostStore

extension OutpostCommand {
    /// `outpost restore ID`: brings back a deleted incident.
    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Restore a deleted incident.")

        @OptionGroup var storeOptions: StoreOptions

        @Argument(help: "The incident's id.")
        var id: String

        func run() throws {
            Console.out(try restore(in: storeOptions.openStore()))
        }

        /// Restores the incident and returns the confirmation text.
        func restore(in store: Store) throws(CLIError) -> String {
            do { try store.restore(id: id) } catch { throw CLIError(error) }
            return "Restored incident \(id).\n"
        }
    }
}
