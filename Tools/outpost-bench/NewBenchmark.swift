import Foundation
import OutpostStore

/// `outpost-bench new [--runs 50] [--outpost PATH] [--encrypted] [--in-process]`: wall time of
/// `outpost new` as a whole process.
///
/// With `--encrypted` the store is made with a passphrase (`init --passphrase-file`) and unlocked
/// (`outpost unlock`, the agent holds the key) before the runs, and locked after them: each `new`
/// then takes the data key from the agent, as a reporter's unlocked store does.
/// With `--in-process`, only the store's part of one `new` is timed, in this process: open the
/// store (with the key when `--encrypted`), record an incident, truncate the WAL, close.
enum NewBenchmark: Benchmark {
    static let name = "new"
    static let usage =
        "[--runs 50] [--outpost PATH] [--encrypted] [--in-process]  time `outpost new` processes (median, p95)"

    static func run(_ arguments: BenchArguments) throws {
        let runs = try arguments.int("runs", 50)
        if arguments.string("in-process") != nil {
            return try runInProcess(runs: runs, encrypted: arguments.string("encrypted") != nil)
        }
        let binary = arguments.string("outpost") ?? siblingBinary("outpost")
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchError("no outpost binary at \(binary); build it or pass --outpost PATH")
        }
        let folder = try Bench.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = folder + "/store"
        let encrypted = arguments.string("encrypted") != nil
        if encrypted {
            let passphrase = folder + "/passphrase"
            guard FileManager.default.createFile(atPath: passphrase, contents: Data("bench passphrase\n".utf8)) else {
                throw BenchError("cannot write \(passphrase)")
            }
            _ = try spawn(binary, ["--store", store, "init", "--reporter", "bench", "--passphrase-file", passphrase])
            _ = try spawn(binary, ["--store", store, "unlock", "--for", "15m", "--passphrase-file", passphrase])
        } else {
            // The baseline: a plaintext store as Outpost made them before encryption (no keyfile).
            _ = try Store.create(at: store, reporter: "bench").checkpointAndTruncate()
        }
        defer { if encrypted { _ = try? spawn(binary, ["--store", store, "lock"]) } }
        var times: [Double] = []
        for i in 0..<runs {
            let args = [
                "--store", store, "new", "--title", "Shelling near the market #\(i)", "--event-type", "explosion_remote_violence",
                "--occurred-at", "2024-05-01T06:30:00Z", "--lat", "-1.6812345", "--lon", "29.2212345", "--killed", "3",
                "--narrative", "Residents reported shelling at dawn; several houses were damaged.",
            ]
            times.append(try spawn(binary, args) * 1000)
        }
        let sorted = times.sorted()
        print("binary: \(binary)\(encrypted ? " (encrypted store, unlocked)" : "")")
        print(
            String(
                format: "new: %d runs, median %.1f ms, p95 %.1f ms, min %.1f ms, max %.1f ms",
                runs, Bench.quantile(sorted, 0.5), Bench.quantile(sorted, 0.95), sorted.first ?? 0, sorted.last ?? 0))
    }

    /// The store's part of `outpost new`, `runs` times in this process.
    static func runInProcess(runs: Int, encrypted: Bool) throws {
        let folder = try Bench.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let store = folder + "/store"
        let cipher = encrypted ? try StoreCipher(key: StoreCipher.randomKey()) : nil
        _ = try Store.create(at: store, reporter: "bench", cipher: cipher)
        var times: [Double] = []
        for i in 0..<runs {
            let start = Bench.now()
            do {
                let opened = try Store.open(at: store, cipher: cipher)
                try opened.create(fields: [
                    "title": .string("Shelling near the market #\(i)"), "event_type": "explosion_remote_violence",
                    "occurred_at": "2024-05-01T06:30:00Z", "lat": -1.6812345, "lon": 29.2212345, "killed": 3,
                    "narrative": "Residents reported shelling at dawn; several houses were damaged.",
                ])
                try opened.checkpointAndTruncate()
            }
            times.append((Bench.now() - start) * 1000)
        }
        let sorted = times.sorted()
        print(
            String(
                format: "new (store part, in process%@): %d runs, median %.2f ms, p95 %.2f ms, min %.2f ms, max %.2f ms",
                encrypted ? ", encrypted store" : "", runs, Bench.quantile(sorted, 0.5), Bench.quantile(sorted, 0.95),
                sorted.first ?? 0, sorted.last ?? 0))
    }

    /// A binary in the same folder as this executable.
    static func siblingBinary(_ name: String) -> String {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        return me.deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// Runs `binary` with `arguments` (output discarded), returns its wall time in seconds.
    static func spawn(_ binary: String, _ arguments: [String]) throws -> Double {
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = ([binary] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var pid: pid_t = 0
        let start = Bench.now()
        let rc = posix_spawn(&pid, binary, &actions, nil, argv, environ)
        guard rc == 0 else { throw BenchError("cannot start \(binary): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let elapsed = Bench.now() - start
        guard status == 0 else { throw BenchError("\(binary) \(arguments.joined(separator: " ")) failed (status \(status))") }
        return elapsed
    }
}
