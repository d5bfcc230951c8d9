import Foundation
import OutpostStore

/// Push and pull rates through a real server on loopback, bytes on the wire, peak memory.
///
/// Reporter A imports `incidents` incidents and pushes them with `outpost sync`; reporter B
/// then pulls them all. Both are real processes, as is the server (`outpost-server serve`).
/// With `--encrypted` both stores are made with a passphrase and unlocked (`outpost unlock`)
/// for the runs, then locked. With `--tls` the server serves HTTPS with a certificate from
/// `outpost-server cert`, and both stores pin its key.
enum ServerSyncBenchmark: Benchmark {
    static let name = "sync"
    static let usage =
        "[--incidents 100000] [--batch 1000] [--encrypted] [--tls] [--no-query-indexes] [--keep DIR]  push/pull rates through a real server, bytes on the wire, peak memory, CPU time"

    static func run(_ arguments: BenchArguments) throws {
        try run(
            incidents: try arguments.int("incidents", 100_000), batch: try arguments.int("batch", 1000),
            keep: arguments.string("keep"), encrypted: arguments.string("encrypted") != nil,
            tls: arguments.string("tls") != nil, queryIndexes: arguments.string("no-query-indexes") == nil)
    }

    /// Runs the benchmark; with `keep`, works in that folder and leaves it behind (for profiling).
    /// Without `queryIndexes` the server runs with `--no-query-indexes`; with them, the time and
    /// server CPU its background text indexing takes after the push are printed too.
    static func run(
        incidents: Int, batch: Int, keep: String? = nil, encrypted: Bool = false, tls: Bool = false, queryIndexes: Bool = true
    ) throws {
        let outpost = NewBenchmark.siblingBinary("outpost")
        let server = NewBenchmark.siblingBinary("outpost-server")
        for path in [outpost, server] where !FileManager.default.isExecutableFile(atPath: path) {
            throw BenchError("\(path) is missing: build with `swift build -c release` first")
        }
        let dir = keep ?? NSTemporaryDirectory() + "outpost-bench-sync-" + UUID().uuidString
        if keep != nil, FileManager.default.fileExists(atPath: dir) { throw BenchError("\(dir) already exists") }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { if keep == nil { try? FileManager.default.removeItem(atPath: dir) } }
        let db = dir + "/server.db"
        let tokenA = try ChildProcess.check(server, ["enroll", "--db", db, "--reporter", "alice"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let tokenB = try ChildProcess.check(server, ["enroll", "--db", db, "--reporter", "bob"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)

        var tlsArguments: [String] = []
        var pin: String?
        if tls {
            let made = try ChildProcess.check(server, ["cert", "--out", dir + "/tls"])
            pin = made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            tlsArguments = ["--tls-cert", dir + "/tls/cert.pem", "--tls-key", dir + "/tls/key.pem"]
            print("sync: over TLS, pinned \(pin ?? "")")
        }

        let log = dir + "/server.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let serverProcess = Process()
        serverProcess.executableURL = URL(fileURLWithPath: server)
        serverProcess.arguments =
            ["serve", "--db", db, "--host", "127.0.0.1", "--port", "0"] + tlsArguments
            + (queryIndexes ? ["--query-indexes"] : ["--no-query-indexes"])
        print("sync: server \(queryIndexes ? "with" : "without") query indexes")
        let logHandle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        serverProcess.standardOutput = logHandle
        serverProcess.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try serverProcess.run()
        defer {
            if serverProcess.isRunning {
                serverProcess.terminate()
                serverProcess.waitUntilExit()
            }
        }
        var url = ""
        for _ in 0..<300 where url.isEmpty {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"https?://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) {
                url = String(text[range])
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        guard !url.isEmpty else { throw BenchError("the server did not start") }

        let storeA = dir + "/alice"
        let storeB = dir + "/bob"
        let passphrase = dir + "/passphrase"
        var keyOptions: [String] = []
        if encrypted {
            guard FileManager.default.createFile(atPath: passphrase, contents: Data("bench passphrase\n".utf8)) else {
                throw BenchError("cannot write \(passphrase)")
            }
            keyOptions = ["--passphrase-file", passphrase]
        }
        let pinOptions = pin.map { ["--pin", $0] } ?? []
        if encrypted {
            _ = try ChildProcess.check(
                outpost,
                ["--store", storeA, "init", "--reporter", "alice", "--server", url, "--token=" + tokenA] + keyOptions + pinOptions
            )
            _ = try ChildProcess.check(
                outpost,
                ["--store", storeB, "init", "--reporter", "bob", "--server", url, "--token=" + tokenB] + keyOptions + pinOptions)
        } else {
            // The baseline: plaintext stores as Outpost made them before encryption (no keyfile).
            for (store, name, token) in [(storeA, "alice", tokenA), (storeB, "bob", tokenB)] {
                var settings = ["server_url": url, "server_token": token]
                if let pin { settings["server_pin"] = pin }
                _ = try Store.create(at: store, reporter: name, settings: settings).checkpointAndTruncate()
            }
        }
        if encrypted {
            for store in [storeA, storeB] {
                _ = try ChildProcess.check(outpost, ["--store", store, "unlock", "--for", "1h"] + keyOptions)
            }
            print("sync: both stores encrypted, unlocked")
        }
        defer {
            if encrypted { for store in [storeA, storeB] { _ = try? ChildProcess.check(outpost, ["--store", store, "lock"]) } }
        }

        let file = dir + "/incidents.ndjson"
        var generator = IncidentGenerator()
        var text = ""
        text.reserveCapacity(incidents * 500)
        for i in 0..<incidents { text += generator.incident(index: i).serialized() + "\n" }
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        _ = try ChildProcess.check(outpost, ["--store", storeA, "import", file])
        let exported = try ChildProcess.check(outpost, ["--store", storeA, "export", "--format", "ndjson"]).stdout
        let jsonBytesPerIncident = Double(exported.utf8.count) / Double(incidents)

        let serverPID = serverProcess.processIdentifier
        let serverCPU0 = cpuSeconds(ofProcess: serverPID)
        let childCPU0 = childrenCPUSeconds()
        let push = try ChildProcess.check(outpost, ["--store", storeA, "sync", "--json", "--batch-size", String(batch)])
        let serverCPU1 = cpuSeconds(ofProcess: serverPID)
        let childCPU1 = childrenCPUSeconds()
        let pull = try ChildProcess.check(outpost, ["--store", storeB, "sync", "--json", "--batch-size", String(batch)])
        let serverCPU2 = cpuSeconds(ofProcess: serverPID)
        let childCPU2 = childrenCPUSeconds()
        var indexedAfter = 0.0
        if queryIndexes {
            // The server indexes the pushed text between batches and once they stop: wait for it.
            let reader = try Store.open(databasePath: db)
            let start = Bench.now()
            while try reader.pendingQueryText() > 0, Bench.now() - start < 600 { Thread.sleep(forTimeInterval: 0.05) }
            indexedAfter = Bench.now() - start
        }
        let serverCPU3 = cpuSeconds(ofProcess: serverPID)
        let serverPeak = peakMemory(ofProcess: serverPID) ?? 0

        func figure(_ text: String, _ key: String) -> Double {
            guard let data = text.split(separator: "\n").last.map({ Data($0.utf8) }),
                let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let n = object[key] as? NSNumber
            else { return .nan }
            return n.doubleValue
        }
        let pushed = figure(push.stdout, "sent")
        let pulled = figure(pull.stdout, "received")
        let upBytes = figure(push.stdout, "bytes_up")
        let downBytes = figure(pull.stdout, "bytes_down")
        print(String(format: "sync: incident JSON (export ndjson) %.0f bytes/incident", jsonBytesPerIncident))
        print(
            String(
                format:
                    "sync: push %.0f incidents in %.2f s = %.0f incidents/s; %.1f bytes/incident on the wire up (%.0f%% of JSON); client peak %.1f MB",
                pushed, push.seconds, pushed / push.seconds, upBytes / pushed, 100 * upBytes / pushed / jsonBytesPerIncident,
                Double(push.peakBytes) / 1e6))
        print(
            String(
                format:
                    "sync: pull %.0f incidents in %.2f s = %.0f incidents/s; %.1f bytes/incident on the wire down (%.0f%% of JSON); client peak %.1f MB",
                pulled, pull.seconds, pulled / pull.seconds, downBytes / pulled, 100 * downBytes / pulled / jsonBytesPerIncident,
                Double(pull.peakBytes) / 1e6))
        print(String(format: "sync: server peak %.1f MB", Double(serverPeak) / 1e6))
        print(
            String(
                format: "sync: CPU s (user+sys): push client %.2f server %.2f; pull client %.2f server %.2f",
                childCPU1 - childCPU0, serverCPU1 - serverCPU0, childCPU2 - childCPU1, serverCPU2 - serverCPU1))
        if queryIndexes {
            print(
                String(
                    format: "sync: text index complete %.2f s after the pull ended; server CPU s after the pull %.2f",
                    indexedAfter, serverCPU3 - serverCPU2))
        }
    }

    /// User plus system CPU seconds of every finished child this process waited for.
    static func childrenCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// User plus system CPU seconds a running process has used (`/proc/PID/stat`), 0 when unknown.
    static func cpuSeconds(ofProcess pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return 0 }
        // Fields after the command name: state is field 3, utime 14 and stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
