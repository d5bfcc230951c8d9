import Foundation
import OutpostTestSupport

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Paths of the built executables, found next to the test bundle (`swift build --build-tests` builds them).
enum Binaries {
    static let directory: URL = {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        // …/.build/<triple>/debug/OutpostPackageTests.xctest[/Contents/MacOS/…]: walk up to the products folder.
        while url.path != "/" && !FileManager.default.fileExists(atPath: url.appendingPathComponent("outpost").path) {
            url.deleteLastPathComponent()
        }
        return url
    }()

    static var outpost: String { directory.appendingPathComponent("outpost").path }
    static var server: String { directory.appendingPathComponent("outpost-server").path }
}

/// What a finished process printed and how it exited.
struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a command to completion, feeding `input` on stdin.
@discardableResult
func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], input: String? = nil) throws
    -> ProcessResult
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (k, v) in TestPassphrase.environment { env[k] = v }
    for (k, v) in environment { env[k] = v }
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let inPipe = Pipe()
    process.standardInput = inPipe
    try process.run()
    if let input { inPipe.fileHandleForWriting.write(Data(input.utf8)) }
    try inPipe.fileHandleForWriting.close()
    // Read both pipes to the end before waiting so a chatty process never blocks on a full pipe.
    let group = DispatchGroup()
    nonisolated(unsafe) var outData = Data()
    nonisolated(unsafe) var errData = Data()
    group.enter()
    DispatchQueue.global().async {
        outData = out.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    errData = err.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return ProcessResult(
        status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errData, as: UTF8.self))
}

/// A temporary folder removed when the value is dropped.
final class TemporaryFolder {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "outpost-e2e-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func sub(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A real `outpost-server serve` process on 127.0.0.1 with a port it picked itself.
final class ServerProcess {
    let process = Process()
    let db: String
    private(set) var url = ""
    private let log: String
    /// More `serve` arguments (e.g. `--tls-cert F --tls-key F`).
    private let serveArguments: [String]

    /// Starts a server; `port` 0 lets it pick one (a restart passes the port it had).
    init(db: String, log: String, port: Int = 0, serveArguments: [String] = []) throws {
        self.db = db
        self.log = log
        self.serveArguments = serveArguments
        try start(port: port)
    }

    /// The port in `url`.
    var port: Int { Int(url.split(separator: ":").last ?? "0") ?? 0 }

    private func start(port: Int) throws {
        if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        let before = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").utf8.count
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try handle.seekToEnd()
        process.executableURL = URL(fileURLWithPath: Binaries.server)
        process.arguments = ["serve", "--db", db, "--host", "127.0.0.1", "--port", String(port)] + serveArguments
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let all = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            let text = String(decoding: all.utf8.dropFirst(before), as: UTF8.self)
            if let range = text.range(of: #"https?://127\.0\.0\.1:[0-9]+"#, options: .regularExpression) {
                url = String(text[range])
                return
            }
            if !process.isRunning { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw HarnessError("the server did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }

    /// Ends the server with a signal and waits for it.
    func stop(signal: Int32 = SIGTERM) {
        if process.isRunning {
            kill(process.processIdentifier, signal)
            process.waitUntilExit()
        }
    }

    deinit { stop(signal: SIGKILL) }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// GET `url` with a bearer `token`: the HTTP status (0 when unreachable) and the body.
func httpGet(_ url: String, token: String) -> (status: Int, body: Data) {
    var request = URLRequest(url: URL(string: url)!)
    request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var body = Data()
    nonisolated(unsafe) var status = 0
    URLSession.shared.dataTask(with: request) { data, response, _ in
        body = data ?? Data()
        status = (response as? HTTPURLResponse)?.statusCode ?? 0
        done.signal()
    }.resume()
    done.wait()
    return (status, body)
}
