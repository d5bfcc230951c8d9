import ArgumentParser
import OutpostCore
import OutpostStore

extension OutpostCommand {
    /// `outpost history ID [--json]`: every change to an incident.
    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show every change to an incident: who, when, and the fields written.",
            discussion: """
                --json prints an array of {"replica", "reporter", "counter", "ms", "seq", "deps", "writes", "sig", \
                "verified", "time", "applied"}, oldest first; a delete writes "_deleted": true and a restore \
                "_deleted": false. "reporter" is the roster's name for the author replica (null when the \
                roster does not name it); "verified" is true when the signature holds under the author's \
                key, null while the author is unknown (unverified), false for a change made before signatures.
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
                let entries = try store.attributedHistory(id: id)
                if entries.isEmpty, try store.incident(id: id) == nil {
                    throw CLIError(.unknownID, "no incident with id \(id)")
                }
                if json { return JSONValue.array(entries.map(History.json)).serialized() + "\n" }
                return HumanFormat.history(entries)
            } catch {
                throw CLIError.from(error)
            }
        }

        /// One change as `history --json` prints it.
        static func json(_ attributed: AttributedChange) -> JSONValue {
            let change = attributed.entry.change
            return .object([
                "replica": .string(change.dot.replica.hex), "reporter": attributed.author.map(JSONValue.string) ?? .null,
                "counter": .int(Int64(clamping: change.dot.counter)), "ms": .int(change.tag.ms),
                "seq": .int(Int64(change.tag.seq)),
                "deps": .object(
                    Dictionary(
                        uniqueKeysWithValues: change.deps.entries.map { ($0.key.hex, JSONValue.int(Int64(clamping: $0.value))) })),
                "writes": .object(change.writes), "sig": change.sig.map { .string(Base64URL.encode($0)) } ?? .null,
                "verified": attributed.verified.map(JSONValue.bool) ?? .null,
                "time": .string(DateText.rfc3339(epochMilliseconds: change.tag.ms)), "applied": .bool(attributed.entry.applied),
            ])
        }
    }
}
