import ArgumentParser
import OutpostStore

extension OutpostCommand {
    /// `outpost delete ID`: deletes an incident (its history stays; `restore` brings it back).
    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an incident (restore brings it back).")

        @OptionGroup var storeOptions: StoreOptions

        @Argument(help: "The incident's id.")
        var id: String

        func run() throws {
            Console.out(try delete(in: storeOptions.openStore()))
        }

        /// Deletes the incident and returns the confirmation text.
        func delete(in store: Store) throws(CLIError) -> String {
            do { try store.delete(id: id) } catch { throw CLIError(error) }
            return "Deleted incident \(id).\n"
        }
    }
}
