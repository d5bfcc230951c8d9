import OutpostSync

/// `outpost-bench apply [--incidents 100000] [--changes 100000] [--batch N]`: the dispatcher entry for `ApplyBenchmark`.
enum ApplyBenchmarkCommand: Benchmark {
    static let name = "apply"
    static let usage = "[--incidents 100000] [--changes 100000] [--batch 5000]  remote changes applied per second"

    static func run(_ arguments: BenchArguments) throws {
        try ApplyBenchmark.run(
            incidents: try arguments.int("incidents", 100_000), changes: try arguments.int("changes", 100_000),
            batch: try arguments.int("batch", SyncSession.defaultBatchLimit))
    }
}
