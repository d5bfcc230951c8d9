// Temporary dispatcher until the CLI benchmarks land.
let n = Int(CommandLine.arguments.dropFirst().first ?? "") ?? 100_000
try ApplyBenchmark.run(incidents: n, changes: n)
