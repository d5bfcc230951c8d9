import ArgumentParser
import OutpostCore
import OutpostStore

extension OutpostCommand {
    /// `outpost new --title T [field flags]`: records an incident and prints its id.
    struct New: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record a new incident and print its id.",
            discussion: "Each field has a flag: its name with - for _ (e.g. --event-type, --occurred-at).")

        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var fields: FieldOptions

        func validate() throws {
            if fields.title == nil { throw ArgumentParser.ValidationError("--title is required for a new incident") }
        }

        func run() throws {
            let writes = try fields.writes()
            if let pair = CoordinatePair.unpaired(writes) {
                throw CLIError(
                    .invalidInput,
                    "--\(pair.given) needs --\(pair.missing) too: a location is both or neither; nothing was stored")
            }
            Console.out(try create(in: storeOptions.openStore(), writes: writes) + "\n")
        }

        /// Records the incident and returns its id.
        func create(in store: Store, writes: [String: JSONValue]) throws(CLIError) -> String {
            do { return try store.create(fields: writes).record.id } catch { throw CLIError(error) }
        }
    }
}
