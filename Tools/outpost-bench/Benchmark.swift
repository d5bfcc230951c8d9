import Foundation

/// One benchmark: a subcommand of `outpost-bench`.
protocol Benchmark {
    /// The subcommand name.
    static var name: String { get }
    /// Its options, for the usage text.
    static var usage: String { get }
    /// Runs the benchmark and prints its figures.
    static func run(_ arguments: BenchArguments) throws
}

/// `--name value` options of a benchmark; `--name` alone (last, or before another option) is a flag.
struct BenchArguments {
    private var values: [String: String] = [:]

    init(_ arguments: [String]) {
        var i = 0
        while i < arguments.count {
            let key = arguments[i]
            if key.hasPrefix("--"), let eq = key.firstIndex(of: "=") {
                values[String(key[key.index(key.startIndex, offsetBy: 2)..<eq])] = String(key[key.index(after: eq)...])
                i += 1
            } else if key.hasPrefix("--"), i + 1 < arguments.count, !arguments[i + 1].hasPrefix("--") {
                values[String(key.dropFirst(2))] = arguments[i + 1]
                i += 2
            } else {
                values[String(key.drop { $0 == "-" })] = "true"
                i += 1
            }
        }
    }

    /// An integer option, or `fallback`.
    func int(_ name: String, _ fallback: Int) throws -> Int {
        guard let text = values[name] else { return fallback }
        guard let value = Int(text), value > 0 else { throw BenchError("--\(name) must be a positive whole number") }
        return value
    }

    /// A text option.
    func string(_ name: String) -> String? { values[name] }
}

/// Timing and temporary-folder helpers.
enum Bench {
    /// Monotonic seconds.
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// User plus system CPU seconds used by this process so far (the load of other processes aside).
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec)
            / 1e6
    }

    /// A new empty temporary folder.
    static func temporaryFolder() throws -> String {
        let path = NSTemporaryDirectory() + "outpost-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The `q` quantile (0…1) of sorted values, nearest rank.
    static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }
}
