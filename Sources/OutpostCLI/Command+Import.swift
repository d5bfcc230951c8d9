import ArgumentParser
import OutpostCore
import OutpostStore

extension ImportFormat: ExpressibleByArgument {}

extension OutpostCommand {
    /// `outpost import FILE`: adds incidents from NDJSON or CSV, all or nothing.
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import incidents from an NDJSON or CSV file, all or nothing.",
            discussion: """
                NDJSON: one object per line, {"title": …, "event_type": …} with an optional "id" (the \
                `export` shape {"id", "fields": {…}} works too). CSV: a header row of field names and an \
                optional id column; an empty cell leaves the field out. The format follows the extension \
                (.csv, .ndjson, .jsonl, .json), else the content. Every invalid row is reported with its \
                line number, and then nothing is imported.
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Argument(help: ArgumentHelp("The file to read (- for standard input).", valueName: "file"))
        var file: String

        @Option(help: "The file's format (default: by extension, else by content).")
        var format: ImportFormat?

        func run() throws {
            let store = try storeOptions.openStore()
            let count = try Import.importFile(file, format: format, into: store) { Console.error($0) }
            Console.out("Imported \(count) incident\(count == 1 ? "" : "s").\n")
        }

        /// Reads, checks and imports `file`; reports each invalid row through `report`, then fails.
        static func importFile(
            _ file: String, format: ImportFormat?, into store: Store, report: (String) -> Void
        ) throws(CLIError) -> Int {
            let bytes = try FileInput.read(file)
            let name = file == "-" ? "standard input" : file
            let result = IncidentImporter.parse(bytes, format: format ?? ImportFormat.detect(path: file, bytes: bytes))
            if !result.problems.isEmpty {
                for problem in result.problems { report("\(name): \(problem)") }
                let rows = Set(result.problems.map(\.line)).count
                throw CLIError(
                    .invalidInput, "\(name): \(rows) invalid row\(rows == 1 ? "" : "s"); nothing was imported")
            }
            do {
                return try store.importIncidents(result.inputs).count
            } catch {
                throw CLIError(OutpostExitCode(error.kind), "\(name): " + lineMessage(error.message, rows: result.rows))
            }
        }

        /// The store names rows as `incident N: …`; this names the file's line instead.
        static func lineMessage(_ message: String, rows: [ImportedRow]) -> String {
            guard message.hasPrefix("incident "), let colon = message.firstIndex(of: ":"),
                let index = Int(message[message.index(message.startIndex, offsetBy: 9)..<colon]),
                index >= 1, index <= rows.count
            else { return message + "; nothing was imported" }
            return "line \(rows[index - 1].line)\(message[colon...]); nothing was imported"
        }
    }
}
