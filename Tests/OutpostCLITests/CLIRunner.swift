import Foundation
import OutpostTestSupport
import Testing

/// The result of running the `outpost` binary.
struct CLIResult {
    var status: Int32
    var stdoutBytes: [UInt8]
    var stderr: String
    var stdout: String { String(decoding: stdoutBytes, as: UTF8.self) }
}

/// Runs the real built `outpost` binary against temporary stores.
enum CLIRunner {
    /// The binary: `$OUTPOST_CLI_BINARY`, else next to the test bundle, else under the package's `.build*` folders.
    static let binary: String? = locate()

    private static func locate() -> String? {
        let fm = FileManager.default
        if let path = ProcessInfo.processInfo.environment["OUTPOST_CLI_BINARY"], fm.isExecutableFile(atPath: path) {
            return path
        }
        var starts = [Bundle.main.bundleURL, Bundle.main.executableURL]
        if let first = CommandLine.arguments.first {
            starts.append(URL(fileURLWithPath: first).resolvingSymlinksInPath())
        }
        starts += Bundle.allBundles.map(\.bundleURL)
        for start in starts.compactMap({ $0 }) {
            var dir = start.hasDirectoryPath ? start : start.deletingLastPathComponent()
            for _ in 0..<5 {
                let candidate = dir.appendingPathComponent("outpost").path
                var isDir: ObjCBool = false
                if fm.fileExists(atPath: candidate, isDirectory: &isDir), !isDir.boolValue, fm.isExecutableFile(atPath: candidate)
                {
                    return candidate
                }
                dir = dir.deletingLastPathComponent()
            }
        }
        // Fall back to the newest debug build under the package root.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let builds = (try? fm.contentsOfDirectory(atPath: root.path))?.filter { $0.hasPrefix(".build") } ?? []
        var best: (String, Date)?
        for build in builds {
            let triples = (try? fm.contentsOfDirectory(atPath: root.path + "/" + build)) ?? []
            for sub in ["debug/outpost"] + triples.map({ "\($0)/debug/outpost" }) {
                let path = root.path + "/" + build + "/" + sub
                guard fm.isExecutableFile(atPath: path),
                    let date = (try? fm.attributesOfItem(atPath: path))?[.modificationDate] as? Date
                else { continue }
                if best == nil || date > best!.1 { best = (path, date) }
            }
        }
        return best?.0
    }

    /// The binary, or a test failure explaining how to build it.
    static func requireBinary() throws -> String {
        try #require(
            binary,
            "the outpost binary was not found next to the tests; build it with `swift build --build-tests` or set OUTPOST_CLI_BINARY"
        )
    }

    /// Runs `outpost` with `arguments` (and `--store store` first when given).
    static func run(
        _ arguments: [String], store: String? = nil, stdin: [UInt8]? = nil, environment: [String: String] = [:]
    ) throws -> CLIResult {
        let binary = try requireBinary()
        let folder = try TempFolder.make()
        defer { folder.remove() }
        let outPath = folder.path + "/out", errPath = folder.path + "/err", inPath = folder.path + "/in"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        _ = FileManager.default.createFile(atPath: inPath, contents: Data(stdin ?? []))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = (store.map { ["--store", $0] } ?? []) + arguments
        var env = ProcessInfo.processInfo.environment
        env["OUTPOST_STORE"] = nil
        for (k, v) in TestPassphrase.environment { env[k] = v }
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        process.standardInput = FileHandle(forReadingAtPath: inPath)
        try process.run()
        process.waitUntilExit()
        let out = (try? Data(contentsOf: URL(fileURLWithPath: outPath))) ?? Data()
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        return CLIResult(status: process.terminationStatus, stdoutBytes: Array(out), stderr: err)
    }
}

/// A temporary folder removed by `remove()`.
struct TempFolder {
    let path: String

    static func make() throws -> TempFolder {
        let path = NSTemporaryDirectory() + "outpost-cli-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return TempFolder(path: path)
    }

    /// A store path inside the folder (not created).
    var store: String { path + "/store" }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Writes a file in the folder and returns its path.
    func write(_ name: String, _ text: String) -> String {
        let file = path + "/" + name
        _ = FileManager.default.createFile(atPath: file, contents: Data(text.utf8))
        return file
    }
}
