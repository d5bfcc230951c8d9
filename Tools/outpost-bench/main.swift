import Foundation

// outpost-bench: one benchmark per file, each a `Benchmark` listed here.
let benchmarks: [any Benchmark.Type] = [
    ImportBenchmark.self, NewBenchmark.self, ApplyBenchmarkCommand.self, ServerSyncBenchmark.self,
    AbuseBenchmark.self,
    HealthzUnderLoadBenchmark.self, ParcelBenchmark.self, QueryBenchmark.self,
]

let arguments = Array(CommandLine.arguments.dropFirst())
guard let name = arguments.first, name != "--help", name != "-h" else {
    print("usage: outpost-bench <benchmark> [options]\n\nbenchmarks:")
    for benchmark in benchmarks {
        print("  \(benchmark.name.padding(toLength: 10, withPad: " ", startingAt: 0))\(benchmark.usage)")
    }
    exit(arguments.isEmpty ? 2 : 0)
}
guard let benchmark = benchmarks.first(where: { $0.name == name }) else {
    FileHandle.standardError.write(Data("outpost-bench: unknown benchmark \(name)\n".utf8))
    exit(2)
}
do {
    try benchmark.run(BenchArguments(Array(arguments.dropFirst())))
} catch {
    FileHandle.standardError.write(Data("outpost-bench: \(name): \(error)\n".utf8))
    exit(1)
}
