import ArgumentParser
import OutpostCore
import OutpostStore

extension OutpostCommand {
    /// `outpost export [--format ndjson|csv|geojson]`: every visible incident to standard output.
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write every incident to standard output as NDJSON, CSV or GeoJSON.",
            discussion: """
                ndjson: one `show --json` object per line. csv: header id plus every field (RFC 4180); \
                a text cell starting with =, +, -, @, tab or carriage return gets a leading ' so \
                spreadsheet programs never run it as a formula (numbers stay numbers). geojson: a FeatureCollection; Point [lon, lat] when both are set, else null geometry.
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Option(help: "ndjson, csv or geojson.")
        var format: ExportFormat = .ndjson

        func run() throws {
            let store = try storeOptions.openStore()
            try Export.export(store, format: format, to: OutputBuffer.standardOutput())
        }

        /// Streams every visible incident of `store` to `out` in `format`.
        static func export(_ store: Store, format: ExportFormat, to out: OutputBuffer) throws(CLIError) {
            var exporter = Exporter(format: format, output: out)
            do {
                var conflicts: [String: RecordConflicts] = [:]
                if format == .ndjson {
                    conflicts = Dictionary(try store.conflicts().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
                }
                exporter.begin()
                try store.forEachIncident { record in
                    exporter.write(record, conflicts: conflicts[record.id].map(IncidentJSON.conflicts(of:)) ?? [])
                }
                exporter.finish()
            } catch {
                throw CLIError.from(error)
            }
        }
    }
}
