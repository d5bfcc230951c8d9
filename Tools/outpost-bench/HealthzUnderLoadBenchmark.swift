import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `/healthz` latency while reporters flood the server with pushes: several `outpost sync`
/// processes push at once against a real `outpost-server serve`, and this process asks
/// `/healthz` over and over meanwhile (and before, for a baseline); prints p50, p99 and max.
enum HealthzUnderLoadBenchmark: Benchmark {
    static let name = "healthz"
    static let usage =
        "[--clients 4] [--incidents 20000] [--batch 1000]  /healthz latency p50/p99 during a push flood through a real server"

    static func run(_ arguments: BenchArguments) throws {
        let clients = try arguments.int("clients", 4)
        let incidents = try arguments.int("incidents", 20_000)
        let batch = try arguments.int("batch", 1000)
        let outpost = NewBenchmark.siblingBinary("outpost")
        let server = NewBenchmark.siblingBinary("outpost-server")
        for path in [outpost, server] where !FileManager.default.isExecutableFile(atPath: path) {
            throw BenchError("\(path) is missing: build with `swift build -c release` first")
        }
        let dir = NSTemporaryDirectory() + "outpost-bench-healthz-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = dir + "/server.db"
        let names = (0..<clients).map { "reporter\($0)" }
        var tokens: [String] = []
        for name in names {
            tokens.append(
                try ChildProcess.check(server, ["enroll", "--db", db, "--reporter", name]).stdout
                    .trimmingCharacters(in: .whitespacesAndNewlines))
        }

        let log = dir + "/server.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let serverProcess = Process()
        serverProcess.executableURL = URL(fileURLWithPath: server)
        // The flood is one reporter per client pushing as fast as it can: no per-token limit here.
        // (A server from before the rate limits has no such options; it has no limit either.)
        let help = try ChildProcess.run(server, ["serve", "--help"]).stdout
        serverProcess.arguments =
            ["serve", "--db", db, "--host", "127.0.0.1", "--port", "0"]
            + (help.contains("--token-burst") ? ["--token-burst", "1000000", "--token-requests-per-second", "1000000"] : [])
        serverProcess.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        serverProcess.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try serverProcess.run()
        defer {
            if serverProcess.isRunning {
                serverProcess.terminate()
                serverProcess.waitUntilExit()
            }
        }
        var port = 0
        for _ in 0..<300 where port == 0 {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"127\.0\.0\.1:[0-9]+"#, options: .regularExpression) {
                port = Int(text[range].split(separator: ":")[1]) ?? 0
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        guard port > 0 else { throw BenchError("the server did not start") }
        let url = "http://127.0.0.1:\(port)"

        var generator = IncidentGenerator()
        for (i, name) in names.enumerated() {
            let store = dir + "/" + name
            _ = try ChildProcess.check(
                outpost, ["--store", store, "init", "--reporter", name, "--server", url, "--token=" + tokens[i]])
            var text = ""
            text.reserveCapacity(incidents * 500)
            for k in 0..<incidents { text += generator.incident(index: i * incidents + k).serialized() + "\n" }
            let file = dir + "/\(name).ndjson"
            try text.write(toFile: file, atomically: false, encoding: .utf8)
            _ = try ChildProcess.check(outpost, ["--store", store, "import", file])
        }

        let idle = try sample(port: port, count: 200) { true }
        let start = Date()
        let pushes = try names.map { name -> Process in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: outpost)
            process.arguments = ["--store", dir + "/" + name, "sync", "--batch-size", String(batch)]
            process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            process.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
            return process
        }
        let loaded = try sample(port: port, count: Int.max) { pushes.contains { $0.isRunning } }
        let flood = Date().timeIntervalSince(start)
        for push in pushes where push.terminationStatus != 0 {
            throw BenchError("an `outpost sync` of the flood failed (exit \(push.terminationStatus))")
        }
        func line(_ label: String, _ samples: [Double]) -> String {
            let sorted = samples.sorted()
            func pick(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }
            return String(
                format: "healthz: %@: %d requests, p50 %.1f ms, p99 %.1f ms, max %.1f ms", label, sorted.count, pick(0.5),
                pick(0.99), sorted.last ?? 0)
        }
        print(line("idle", idle))
        print(line("during the flood", loaded))
        print(
            String(
                format: "healthz: flood: %d clients pushed %d incidents in %.2f s (%.0f incidents/s)", clients,
                clients * incidents, flood, Double(clients * incidents) / flood))
    }

    /// `/healthz` latencies in ms, one request after another (10 ms apart) while `going` holds.
    static func sample(port: Int, count: Int, while going: () -> Bool) throws -> [Double] {
        var samples: [Double] = []
        while samples.count < count && going() {
            let start = DispatchTime.now().uptimeNanoseconds
            let response = try httpGet(port: port, path: "/healthz")
            guard response.hasPrefix("HTTP/1.1 200") else {
                throw BenchError("/healthz answered \(response.prefix(40))")
            }
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
            usleep(10_000)
        }
        guard !samples.isEmpty else { throw BenchError("no /healthz sample was taken") }
        return samples
    }

    /// A GET over a fresh connection; the whole response.
    static func httpGet(port: Int, path: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw BenchError("cannot connect to the server") }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
