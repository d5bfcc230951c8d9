import Foundation
import OutpostCLI
import OutpostStore

/// `outpost-bench import [--rows 100000] [--format ndjson|csv] [--encrypted]`: incidents/second through the CLI's
/// import path (with `--encrypted`, into a store sealed by a random data key).
enum ImportBenchmark: Benchmark {
    static let name = "import"
    static let usage =
        "[--rows 100000] [--format ndjson|csv] [--encrypted] [--keep DIR]  import a file through IncidentImporter + Store.importIncidents"

    static func run(_ arguments: BenchArguments) throws {
        let rows = try arguments.int("rows", 100_000)
        // With --keep, the NDJSON file and the store stay in DIR (to profile `outpost import` on them).
        let keep = arguments.string("keep")
        let folder = try keep ?? Bench.temporaryFolder()
        if let keep { try FileManager.default.createDirectory(atPath: keep, withIntermediateDirectories: true) }
        defer { if keep == nil { try? FileManager.default.removeItem(atPath: folder) } }
        guard let format = ImportFormat(rawValue: arguments.string("format") ?? "ndjson") else {
            throw BenchError("--format must be ndjson or csv")
        }
        var generator = IncidentGenerator()
        let file = folder + "/incidents." + format.rawValue
        let bytes = format == .csv ? generator.csv(count: rows) : generator.ndjson(count: rows)
        guard FileManager.default.createFile(atPath: file, contents: Data(bytes)) else {
            throw BenchError("cannot write \(file)")
        }
        print("generated \(rows) incidents, \(bytes.count / 1_000_000) MB of \(format.rawValue.uppercased())")
        // Write the file out now, so that its write-back does not compete with the import's own writes.
        sync()
        let encrypted = arguments.string("encrypted") != nil
        let store = try Store.create(
            at: folder + "/store", reporter: "bench", cipher: encrypted ? try StoreCipher(key: StoreCipher.randomKey()) : nil)

        let start = Bench.now()
        let cpuStart = Bench.cpuSeconds()
        let data = try FileInput.read(file)
        let readDone = Bench.now()
        let result = IncidentImporter.parse(data, format: ImportFormat.detect(path: file, bytes: data))
        guard result.problems.isEmpty else { throw BenchError("generated rows are invalid: \(result.problems[0])") }
        let parseDone = Bench.now()
        let parseCPU = Bench.cpuSeconds() - cpuStart
        let ids = try store.importIncidents(result.inputs)
        let end = Bench.now()
        let cpu = Bench.cpuSeconds() - cpuStart

        guard ids.count == rows, try store.status().incidents == Int64(rows) else { throw BenchError("count mismatch") }
        let total = end - start
        print(
            String(
                format:
                    "read %.3f s, parse+check %.3f s, store %.3f s, total %.3f s (CPU: read+parse+check %.3f s, store %.3f s)",
                readDone - start, parseDone - readDone, end - parseDone, total, parseCPU, cpu - parseCPU))
        print(
            String(
                format: "import (%@%@): %.0f incidents/s (wall); CPU %.3f s = %.0f incidents per CPU-second",
                format.rawValue.uppercased(), encrypted ? ", encrypted store" : "", Double(rows) / total, cpu,
                Double(rows) / cpu))
    }
}
