import OutpostSync

/// `outpost-bench apply [--incidents 100000] [--changes 100000] [--batch N] [--encrypted]`: the dispatcher entry for
/// `ApplyBenchmark` (with `--encrypted`, the receiving stores are sealed by a random data key).
/// Without `--batch`, measures both ways changes arrive: one bundle (one transaction, as `outpost
/// bundle apply` commits it) and a sync session's batches.
enum ApplyBenchmarkCommand: Benchmark {
    static let name = "apply"
    static let usage =
        "[--incidents 100000] [--changes 100000] [--batch N] [--encrypted]  remote changes applied per second (one bundle, and sync batches)"

    static func run(_ arguments: BenchArguments) throws {
        let incidents = try arguments.int("incidents", 100_000)
        let changes = try arguments.int("changes", 100_000)
        let encrypted = arguments.string("encrypted") != nil
        if arguments.string("batch") != nil {
            try ApplyBenchmark.run(
                incidents: incidents, changes: changes, batch: try arguments.int("batch", changes), encrypted: encrypted)
            return
        }
        try ApplyBenchmark.run(incidents: incidents, changes: changes, batch: changes, encrypted: encrypted)
        try ApplyBenchmark.run(
            incidents: incidents, changes: changes, batch: SyncSession.defaultBatchLimit, encrypted: encrypted)
    }
}
