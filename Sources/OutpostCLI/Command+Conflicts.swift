import ArgumentParser
import OutpostCore
import OutpostStore

extension OutpostCommand {
    /// `outpost conflicts [--json]`: every field in conflict, every sibling, the visible one first.
    struct Conflicts: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List conflicts: every value of a field edited concurrently, the one shown first.",
            discussion: """
                Nothing anyone wrote is lost: when two reporters edit the same field without seeing \
                each other's edit, both values are kept and the later one is shown. Resolve with \
                `outpost resolve ID FIELD --pick N` or `--value V`. Incidents kept alive by an edit \
                made concurrently with a delete are listed too.
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Flag(help: "Print JSON: an array of {id, title, fields: {field: [sibling…]}, kept_alive_by_concurrent_edit}.")
        var json = false

        func run() throws {
            Console.out(try render(storeOptions.openStore()))
        }

        /// The conflict listing for a store.
        func render(_ store: Store) throws(CLIError) -> String {
            let conflicts: [RecordConflicts]
            do { conflicts = try store.conflicts() } catch { throw CLIError(error) }
            if json { return ConflictFormat.json(conflicts).serialized() + "\n" }
            return ConflictFormat.text(conflicts)
        }
    }
}

/// The output of `outpost conflicts`.
enum ConflictFormat {
    /// The JSON array `conflicts --json` prints.
    static func json(_ conflicts: [RecordConflicts]) -> JSONValue {
        .array(
            conflicts.map { record in
                .object([
                    "id": .string(record.id), "title": record.title.map(JSONValue.string) ?? .null,
                    "fields": .object(
                        Dictionary(
                            uniqueKeysWithValues: record.fields.map { ($0.field, .array($0.siblings.map(IncidentJSON.sibling))) })
                    ),
                    "kept_alive_by_concurrent_edit": .bool(record.keptAliveByConcurrentEdit),
                ])
            })
    }

    /// The human listing: per incident and field, numbered siblings (1 is shown).
    static func text(_ conflicts: [RecordConflicts]) -> String {
        if conflicts.isEmpty { return "No conflicts.\n" }
        var out = ""
        for record in conflicts {
            out += "\(record.id)  \(record.title ?? "")\n"
            if record.keptAliveByConcurrentEdit {
                out += "  deleted by one reporter, kept alive by an edit made without seeing the delete\n"
                out += "  (delete it again to confirm, or leave it: `outpost delete \(record.id)`)\n"
            }
            for field in record.fields {
                out += "  \(field.field):\n"
                for (i, sibling) in field.siblings.enumerated() {
                    let shown = i == 0 ? "  (shown)" : ""
                    out +=
                        "    \(i + 1). \(sibling.value.serialized())  by \(HumanFormat.author(sibling.reporter, sibling.dot)) at \(DateText.rfc3339(epochMilliseconds: sibling.tag.ms))\(shown)\n"
                }
            }
        }
        return out
    }
}
