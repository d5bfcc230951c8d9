import ArgumentParser
import OutpostCore
import OutpostStore

extension OutpostCommand {
    /// `outpost resolve ID FIELD (--pick N | --value V)`: writes the chosen value, replacing every sibling.
    struct Resolve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resolve a field's conflict by picking one of its values or writing a new one.")

        @OptionGroup var storeOptions: StoreOptions

        @Argument(help: "The incident's id.")
        var id: String

        @Argument(help: "The field in conflict (e.g. killed, place_name).")
        var field: String

        @Option(help: ArgumentHelp("Keep value number N as listed by `outpost conflicts` (1 is the one shown).", valueName: "n"))
        var pick: Int?

        @Option(
            parsing: .unconditional,
            help: ArgumentHelp("Write this value instead (parsed like the field's flag).", valueName: "value"))
        var value: String?

        func validate() throws {
            if (pick == nil) == (value == nil) { throw ValidationError("give exactly one of --pick N or --value V") }
            if let pick, pick < 1 { throw ValidationError("--pick counts from 1") }
        }

        func run() throws {
            Console.out(try resolve(in: storeOptions.openStore()))
        }

        /// Writes the chosen value and returns the confirmation text.
        func resolve(in store: Store) throws(CLIError) -> String {
            let name = field.replacingOccurrences(of: "-", with: "_")
            guard IncidentSchema.byName[name] != nil else {
                throw CLIError(
                    .invalidInput, "\(field): unknown field (known: \(IncidentSchema.fieldNames.joined(separator: ", ")))")
            }
            let chosen: JSONValue
            if let pick {
                let state: RecordState?
                do { state = try store.recordState(id: id) } catch { throw CLIError(error) }
                guard let state, !state.fields.isEmpty else { throw CLIError(.unknownID, "no incident with id \(id)") }
                let siblings = state.fields[name] ?? []
                guard siblings.count > 1 else {
                    throw CLIError(.invalidState, "\(name) of incident \(id) is not in conflict")
                }
                guard pick <= siblings.count else {
                    throw CLIError(.invalidInput, "--pick \(pick): \(name) has only \(siblings.count) values")
                }
                chosen = siblings[pick - 1].value
            } else {
                do { chosen = try IncidentSchema.value(field: name, text: value ?? "") } catch { throw CLIError(error) }
            }
            do { try store.resolve(id: id, field: name, value: chosen) } catch { throw CLIError(error) }
            return "Resolved \(name) of incident \(id) to \(chosen.serialized()).\n"
        }
    }
}
