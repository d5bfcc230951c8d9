import ArgumentParser
import OutpostCore
import OutpostStore

extension OutpostCommand {
    /// `outpost edit ID [field flags] [--clear FIELD …]`: changes fields of an incident.
    struct Edit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change or clear fields of an incident.",
            discussion: "Set fields with their flags; remove a value with --clear FIELD (any field but title).")

        @OptionGroup var storeOptions: StoreOptions

        @Argument(help: "The incident's id.")
        var id: String

        @OptionGroup var fields: FieldOptions

        @Option(name: .customLong("clear"), help: ArgumentHelp("Remove a field's value (repeatable).", valueName: "field"))
        var clear: [String] = []

        func validate() throws {
            if fields.isEmpty && clear.isEmpty {
                throw ArgumentParser.ValidationError("nothing to change: give a field flag or --clear FIELD")
            }
            let set = Set(fields.texts.map(\.field) + (fields.narrativeFile == nil ? [] : ["narrative"]))
            for name in clear.map(Edit.fieldName) where set.contains(name) {
                throw ArgumentParser.ValidationError("--clear \(name) conflicts with a value given for it")
            }
        }

        func run() throws {
            let store = try storeOptions.openStore()
            Console.out(try apply(try writes(), in: store))
        }

        /// The field flags' values plus `null` for each cleared field, checked by the schema.
        func writes() throws(CLIError) -> [String: JSONValue] {
            var out = try fields.writes()
            for name in clear.map(Edit.fieldName) {
                do { try IncidentSchema.validate(field: name, value: .null) } catch { throw CLIError(error) }
                out[name] = .null
            }
            return out
        }

        /// Applies the writes and returns the confirmation text.
        func apply(_ writes: [String: JSONValue], in store: Store) throws(CLIError) -> String {
            try checkCoordinates(writes, in: store)
            do { try store.update(id: id, fields: writes) } catch { throw CLIError(error) }
            return "Updated incident \(id): \(writes.keys.sorted().joined(separator: ", ")).\n"
        }

        /// Refuses writes to `lat` or `lon` that would leave the incident with one coordinate only
        /// (an edit that touches neither is not checked, whatever the incident holds).
        func checkCoordinates(_ writes: [String: JSONValue], in store: Store) throws(CLIError) {
            guard writes["lat"] != nil || writes["lon"] != nil else { return }
            let current: IncidentRecord?
            do { current = try store.incident(id: id) } catch { throw CLIError(error) }
            guard let current else { return }  // the update names the unknown id
            let after = current.fields.merging(writes) { _, new in new }
            guard let pair = CoordinatePair.unpaired(after) else { return }
            let fix =
                writes[pair.missing] == .null
                ? "give --clear \(pair.given) too" : "give --\(pair.missing) too (the incident has no \(pair.missing))"
            throw CLIError(
                .invalidInput, "\(pair.given) without \(pair.missing): a location is both or neither; \(fix); nothing was changed"
            )
        }

        /// A field named as in JSON (`event_type`) or as its flag (`event-type`, `--event-type`).
        static func fieldName(_ text: String) -> String {
            var name = Substring(text)
            while name.first == "-" { name = name.dropFirst() }
            return String(name.map { $0 == "-" ? "_" : $0 })
        }
    }
}
