import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A finished child process: exit status, output, wall time and peak resident memory.
struct ChildResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var seconds: Double
    /// Peak resident set size in bytes (the child's VmHWM, read while it ran).
    var peakBytes: Int
}

/// Runs programs with `posix_spawn` + `wait4`, so each run's own peak memory is known.
enum ChildProcess {
    static func run(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws -> ChildResult {
        let dir = NSTemporaryDirectory()
        let outPath = dir + "bench-out-\(UUID().uuidString)"
        let errPath = dir + "bench-err-\(UUID().uuidString)"
        defer {
            unlink(outPath)
            unlink(errPath)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let start = DispatchTime.now().uptimeNanoseconds
        let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard rc == 0 else { throw BenchError("cannot start \(path): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        var usage = rusage()
        // rusage's ru_maxrss of a posix_spawn'ed child starts from the parent's own peak (the
        // child shared our memory until exec), so read the child's VmHWM while it runs instead.
        var peak = 0
        while true {
            let done = wait4(pid, &status, WNOHANG, &usage)
            if done == pid { break }
            if done < 0 && errno != EINTR { break }
            if let hwm = peakMemory(ofProcess: pid) { peak = max(peak, hwm) }
            usleep(5_000)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return ChildResult(
            status: exitStatus, stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "", seconds: seconds,
            peakBytes: peak)
    }

    /// Runs a program and fails loudly unless it exits 0.
    static func check(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws -> ChildResult {
        let result = try run(path, arguments, environment: environment)
        guard result.status == 0 else {
            throw BenchError(
                "\((path as NSString).lastPathComponent) \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)"
            )
        }
        return result
    }
}

/// A benchmark that could not run, with the reason.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Peak resident memory (VmHWM) of a running process, in bytes.
func peakMemory(ofProcess pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
        return kb * 1024
    }
    return nil
}
