import Foundation
import OutpostCore
import OutpostCurl
import OutpostStore
import OutpostSync

/// What a hostile reporter's pushes cost a real server (issue 11), at 1×, 4× and 16× sizes, so
/// the growth can be read off: linear work takes 4× and 16× the time of 1×, quadratic 16× and 256×.
///
/// Through `outpost-server serve` on loopback, over HTTP, one fresh enrolled replica per push:
/// - `deps`: one change whose `deps` names N replicas (lowercase hex; at most 10,000);
/// - `chain`: a dependency chain of N changes of one record, sent in reverse in one batch (each
///   is held back until the one before it arrives, the last released all at once);
/// - `held`: N changes held forever on one record (their deps name a change that never comes),
///   then `edits` edits of that record, one request each (timed: the edits).
enum AbuseBenchmark: Benchmark {
    static let name = "abuse"
    static let usage =
        "[--deps 10000] [--chain 5000] [--held 10000] [--edits 300] [--cases deps,chain,held] [--timeout 600] [--server PATH]  hostile pushes at 1×/4×/16× sizes"

    static func run(_ arguments: BenchArguments) throws {
        let cases = Set((arguments.string("cases") ?? "deps,chain,held").split(separator: ",").map(String.init))
        for name in cases where !["deps", "chain", "held"].contains(name) {
            throw BenchError("--cases: unknown case \(name) (deps, chain, held)")
        }
        let server = try BenchServer.start(binary: arguments.string("server") ?? NewBenchmark.siblingBinary("outpost-server"))
        defer { server.stop() }
        let timeout = try arguments.int("timeout", 600)
        let pusher = try Pusher(url: server.url, timeoutSeconds: timeout)
        print("abuse: server \(server.binary) at \(server.url); each request at most \(timeout) s")
        // One ordinary push first, so the smallest size does not pay for the server's warm-up.
        let warmUp = try server.enroll()
        _ = try pusher.push(chain(warmUp.replica, id: "warm-up", count: 10, from: 1, deps: [:]), as: warmUp)
        let scales = [1, 4, 16]
        if cases.contains("deps") {
            let largest = min(try arguments.int("deps", 10_000), 10_000)
            try report("deps", unit: "replicas in deps", sizes: scales.map { largest * $0 / 16 }) { size in
                let author = try server.enroll()
                var deps: [ReplicaID: UInt64] = [:]
                while deps.count < size { deps[ReplicaID.random()] = 1 }
                let wide = Change(
                    dot: Dot(replica: author.replica, counter: 1), record: RecordKey(id: "deps-\(size)"),
                    deps: VersionVector(deps), tag: HLCTag(ms: 1_700_000_000_000, seq: 0), writes: ["title": "Wide"],
                    reporter: "mallory")
                return try pusher.push([wide], as: author)
            }
        }
        if cases.contains("chain") {
            let largest = min(try arguments.int("chain", 5_000), ServerSyncRequest.maxChanges)
            try report("chain", unit: "changes, reversed, one batch", sizes: scales.map { largest * $0 / 16 }) { size in
                let author = try server.enroll()
                let changes = chain(author.replica, id: "chain-\(size)", count: size, from: 1, deps: [:])
                return try pusher.push(changes.reversed(), as: author)
            }
        }
        if cases.contains("held") {
            let largest = try arguments.int("held", 10_000)
            let edits = try arguments.int("edits", 300)
            try report("held", unit: "held forever, then \(edits) edits (timed)", sizes: scales.map { largest * $0 / 16 }) {
                size in
                // The edits are another replica's: its vector never covers the held changes' dots,
                // so they stay held (the author's own later edits would cover them).
                let author = try server.enroll()
                let editor = try server.enroll()
                let ghost = ReplicaID.random()
                let id = "held-\(size)"
                let poison = (1...size).map { i in
                    Change(
                        dot: Dot(replica: author.replica, counter: UInt64(i)), record: RecordKey(id: id),
                        deps: VersionVector([ghost: 1]),
                        tag: HLCTag(ms: 1_700_000_000_000 + Int64(i), seq: 0), writes: ["killed": .int(Int64(i))],
                        reporter: "mallory")
                }
                for start in stride(from: 0, to: size, by: ServerSyncRequest.maxChanges) {
                    let end = min(start + ServerSyncRequest.maxChanges, size)
                    guard try pusher.push(Array(poison[start..<end]), as: author) != nil else { return nil }
                }
                let later = chain(editor.replica, id: id, count: edits, from: 1, deps: [:])
                let started = Bench.now()
                for edit in later { guard try pusher.push([edit], as: editor) != nil else { return nil } }
                return Bench.now() - started
            }
        }
    }

    /// `count` changes of one record by `author`, counters from `first` on, each depending on the one before.
    static func chain(_ author: ReplicaID, id: String, count: Int, from first: UInt64, deps: [ReplicaID: UInt64]) -> [Change] {
        (0..<count).map { i in
            let counter = first + UInt64(i)
            let writes: [String: JSONValue] = i == 0 ? ["title": "Chain", "killed": 0] : ["killed": .int(Int64(i))]
            return Change(
                dot: Dot(replica: author, counter: counter), record: RecordKey(id: id),
                deps: VersionVector(i == 0 ? deps : [author: counter - 1]),
                tag: HLCTag(ms: 1_700_000_000_000 + Int64(counter), seq: 0),
                writes: writes, reporter: "mallory")
        }
    }

    /// Runs `measure` at each size and prints its seconds and their ratio to the first size's.
    static func report(_ name: String, unit: String, sizes: [Int], _ measure: (Int) throws -> Double?) throws {
        var base: Double?
        for size in sizes {
            guard let seconds = try measure(size) else {
                print("abuse: \(name) \(size) \(unit): timed out")
                continue
            }
            if base == nil { base = seconds }
            print(
                String(
                    format: "abuse: %@ %6d %@: %8.3f s  (%.1f× the smallest)", name, size, unit, seconds,
                    seconds / max(base ?? seconds, 1e-9)))
        }
    }
}

/// A sending replica and its token.
struct AbuseAuthor {
    /// The device key its changes are signed with, and its replica ID.
    var key: DeviceKey
    var replica: ReplicaID { key.replicaID }
    var token: String
}

/// Sends sync requests with the project's libcurl client, one at a time, no retries.
struct Pusher {
    let client: CurlHTTPClient
    let url: String

    init(url: String, timeoutSeconds: Int) throws {
        client = try CurlHTTPClient(
            options: CurlOptions(totalTimeout: .seconds(timeoutSeconds), lowSpeedLimit: 0), retryPolicy: .none)
        self.url = url
    }

    /// Pushes `changes` as `author` and returns the seconds the request took; nil when it timed
    /// out. Anything but 200 is an error that names the answer.
    func push(_ changes: [Change], as author: AbuseAuthor) throws -> Double? {
        // Signed by the author's key (signing is not what is measured: it happens before the clock starts).
        var message = ServerSyncRequest(
            replica: author.replica, reporter: "mallory", changes: changes.map { author.key.signed($0) }, pullAfter: 0,
            pullLimit: 1)
        message.key = author.key.publicKey
        message.bind = author.key.signature(
            for: Store.bindingMessage(replica: author.replica, token: author.token))
        let body = message.encoded()
        let request = HTTPRequest(
            method: "POST", url: url + "/v1/sync",
            headers: ["Authorization": "Bearer \(author.token)", "Content-Type": "application/json"], body: body)
        let started = Bench.now()
        let outcome = blocking { [client] in try await client.send(request) }
        let seconds = Bench.now() - started
        switch outcome {
        case .success(let response) where response.status == 200: return seconds
        case .success(let response): throw BenchError("the server answered \(response.status): \(response.text.prefix(300))")
        case .failure(let error as TransportError) where error.kind == .timedOut: return nil
        case .failure(let error): throw error
        }
    }
}

/// Runs async work to its end from synchronous code (the benchmarks are synchronous).
func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) -> Result<T, any Error> {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        box.result = result
        done.signal()
    }
    done.wait()
    return box.result!
}

/// Carries a task's result to the thread waiting for it.
private final class ResultBox<T: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: written once by the task before it signals the semaphore, read only
    // after the waiting thread has been woken by that signal.
    var result: Result<T, any Error>?
}

/// An `outpost-server serve` child process on loopback, on a fresh database.
final class BenchServer {
    let binary: String
    let url: String
    let directory: String
    private let process: Process

    private init(binary: String, url: String, directory: String, process: Process) {
        self.binary = binary
        self.url = url
        self.directory = directory
        self.process = process
    }

    /// Starts the server on a port of its choosing and waits until it says where it listens.
    static func start(binary: String) throws -> BenchServer {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchError("\(binary) is missing: build it with `swift build -c release --product outpost-server` first")
        }
        let directory = NSTemporaryDirectory() + "outpost-bench-abuse-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let log = directory + "/server.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--db", directory + "/server.db", "--host", "127.0.0.1", "--port", "0"]
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        var url = ""
        for _ in 0..<600 where url.isEmpty {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: #"http://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) {
                url = String(text[range])
            } else {
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        let server = BenchServer(binary: binary, url: url, directory: directory, process: process)
        guard !url.isEmpty else {
            server.stop()
            throw BenchError("the server did not start")
        }
        return server
    }

    /// A new reporter token, bound to a new replica at its first push.
    func enroll() throws -> AbuseAuthor {
        let token = try ChildProcess.check(binary, ["enroll", "--db", directory + "/server.db", "--reporter", "mallory"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return AbuseAuthor(key: DeviceKey(), token: token)
    }

    /// Stops the server and removes its folder.
    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
