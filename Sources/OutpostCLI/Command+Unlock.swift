import ArgumentParser
import Crypto
import Foundation
import Glibc

extension OutpostCommand {
    /// `outpost unlock [--for 15m] [--passphrase-file F]`: keeps the data key in an agent process
    /// so commands on an encrypted store need no passphrase until the time runs out.
    struct Unlock: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Keep the store's key unlocked for a while (default 15m, at most 24h).",
            discussion: """
                Asks for the passphrase (on a terminal, or reads the first line of --passphrase-file \
                or $OUTPOST_PASSPHRASE_FILE), then starts a small agent process that keeps the data \
                key in locked memory and gives it, over the socket outpost.agent in the store \
                folder, only to processes of the same user. The agent forgets the key when the time \
                runs out, on `outpost lock`, or when the keyfile is removed or replaced. An agent \
                already running for the store is replaced.
                """)

        @OptionGroup var storeOptions: StoreOptions

        @Option(
            name: .customLong("for"),
            help: ArgumentHelp("How long to keep the key: 30s, 15m, 2h (at most 24h).", valueName: "duration"),
            transform: { try AgentDuration(parsing: $0) })
        var duration = AgentDuration.fifteenMinutes

        @Option(help: ArgumentHelp("Read the passphrase from the first line of this file.", valueName: "file"))
        var passphraseFile: String?

        /// How long `unlock` waits for the agent to say it is ready.
        static let readyTimeoutMilliseconds: Int64 = 5000

        func run() throws {
            let shownPath = storeOptions.resolvedPath()
            let path =
                shownPath.hasPrefix("/") ? shownPath : FileManager.default.currentDirectoryPath + "/" + shownPath
            // A path too long for the socket fails before the passphrase is asked.
            do throws(AgentSocket.Failure) { _ = try AgentSocket.address(of: UnlockAgent.socketPath(forStoreAt: path)) } catch {
                throw CLIError(.invalidInput, error.message)
            }
            let key = try StoreKeyAccess.dataKeyFromPassphrase(storeAt: shownPath, passphraseFile: passphraseFile)
            try Self.startAgent(storeAt: path, key: key, seconds: duration.seconds)
            Console.out(
                "Unlocked \(shownPath) for \(duration) (until \(Self.utcClockTime(secondsFromNow: duration.seconds)) UTC); "
                    + "`outpost lock` forgets the key.\n")
        }

        /// Starts `outpost agent` (this very executable) in a session of its own, hands it `key`
        /// on its standard input and waits until it says `ready`; fails with the agent's own error
        /// when it does not start.
        static func startAgent(storeAt path: String, key: SymmetricKey, seconds: Int) throws(CLIError) {
            let executable: String
            do { executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") } catch {
                throw CLIError(.failure, "cannot find the outpost executable to start the unlock agent: \(error)")
            }
            let agent = try spawnAgent(executable, ["agent", "--store", path, "--for", String(seconds)])
            defer {
                close(agent.readyOutput)
                close(agent.errorOutput)
            }
            // An agent that dies before reading must not kill this process with SIGPIPE.
            signal(SIGPIPE, SIG_IGN)
            key.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let count = write(agent.keyInput, raw.baseAddress! + offset, raw.count - offset)
                    if count < 0, errno == EINTR { continue }
                    if count <= 0 { break }
                    offset += count
                }
            }
            close(agent.keyInput)
            let deadline = AgentSocket.Clock.milliseconds() + readyTimeoutMilliseconds
            let answer = readText(from: agent.readyOutput, line: true, maxBytes: 64, deadline: deadline)
            if answer == "ready\n" { return }
            guard let status = exitStatus(of: agent.pid, deadline: deadline + 1000) else {
                kill(agent.pid, SIGKILL)
                _ = exitStatus(of: agent.pid, deadline: AgentSocket.Clock.milliseconds() + 1000)
                throw CLIError(
                    .failure, "the unlock agent did not say it was ready within \(readyTimeoutMilliseconds / 1000) s; stopped it")
            }
            let said =
                (readText(from: agent.errorOutput, line: false, maxBytes: 4096, deadline: AgentSocket.Clock.milliseconds() + 1000)
                ?? "")
                .replacingOccurrences(of: "outpost: error: ", with: "")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let code = OutpostExitCode(rawValue: status) ?? .failure
            throw CLIError(
                code == .success ? .failure : code,
                "the unlock agent did not start: " + (said.isEmpty ? "it exited with \(status)" : said))
        }

        /// Spawns `executable` with `arguments`, no environment, default signal handling, in a new
        /// session (`POSIX_SPAWN_SETSID`), with pipes as its standard streams and no other descriptor.
        private static func spawnAgent(
            _ executable: String, _ arguments: [String]
        ) throws(CLIError) -> (pid: pid_t, keyInput: Int32, readyOutput: Int32, errorOutput: Int32) {
            var keyPipe: [Int32] = [-1, -1], readyPipe: [Int32] = [-1, -1], errorPipe: [Int32] = [-1, -1]
            guard pipe(&keyPipe) == 0, pipe(&readyPipe) == 0, pipe(&errorPipe) == 0 else {
                let code = errno
                for descriptor in keyPipe + readyPipe + errorPipe where descriptor >= 0 { close(descriptor) }
                throw CLIError(.failure, "cannot make pipes for the unlock agent: \(AgentSocket.describe(code))")
            }
            for descriptor in keyPipe + readyPipe + errorPipe { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_adddup2(&actions, keyPipe[0], STDIN_FILENO)
            posix_spawn_file_actions_adddup2(&actions, readyPipe[1], STDOUT_FILENO)
            posix_spawn_file_actions_adddup2(&actions, errorPipe[1], STDERR_FILENO)
            // posix_spawn_file_actions_addclosefrom_np (glibc 2.34) is hidden behind _GNU_SOURCE.
            typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
            if let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") {
                _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, STDERR_FILENO + 1)
            }
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var noMask = sigset_t()
            sigemptyset(&noMask)
            posix_spawnattr_setsigmask(&attributes, &noMask)
            var defaults = sigset_t()
            sigemptyset(&defaults)
            for defaulted in [SIGPIPE, SIGTERM, SIGINT, SIGHUP] { sigaddset(&defaults, defaulted) }
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            let setSessionFlag: Int32 = 0x80  // POSIX_SPAWN_SETSID, hidden behind _GNU_SOURCE
            posix_spawnattr_setflags(&attributes, Int16(setSessionFlag | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
            let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
            defer { for argument in argv { free(argument) } }
            let environment: [UnsafeMutablePointer<CChar>?] = [nil]
            var pid = pid_t()
            let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environment)
            for childEnd in [keyPipe[0], readyPipe[1], errorPipe[1]] { close(childEnd) }
            guard result == 0 else {
                for parentEnd in [keyPipe[1], readyPipe[0], errorPipe[0]] { close(parentEnd) }
                throw CLIError(.failure, "cannot start the unlock agent \(executable): \(AgentSocket.describe(result))")
            }
            return (pid, keyPipe[1], readyPipe[0], errorPipe[0])
        }

        /// The exit code of child `pid` once it has exited (128 + signal when killed), or nil if it
        /// still runs at `deadline`.
        private static func exitStatus(of pid: pid_t, deadline: Int64) -> Int32? {
            while true {
                var status: Int32 = 0
                let result = waitpid(pid, &status, WNOHANG)
                if result == pid { return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f) }
                if result < 0, errno != EINTR { return 1 }
                guard AgentSocket.Clock.milliseconds() < deadline else { return nil }
                usleep(10_000)
            }
        }

        /// What `descriptor` gives before `deadline`, end of file, or (with `line`) the first
        /// newline, which is kept; at most `maxBytes`; nil when nothing came.
        private static func readText(from descriptor: Int32, line: Bool, maxBytes: Int, deadline: Int64) -> String? {
            var text: [UInt8] = []
            var byte: UInt8 = 0
            while text.count < maxBytes {
                let left = deadline - AgentSocket.Clock.milliseconds()
                guard left > 0 else { break }
                var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                let ready = poll(&entry, 1, Int32(min(left, 1000)))
                if ready < 0, errno != EINTR { break }
                guard ready > 0 else { continue }
                let count = read(descriptor, &byte, 1)
                if count < 0, errno == EINTR { continue }
                guard count == 1 else { return String(decoding: text, as: UTF8.self) }
                text.append(byte)
                if line, byte == UInt8(ascii: "\n") { break }
            }
            return text.isEmpty ? nil : String(decoding: text, as: UTF8.self)
        }

        /// `HH:MM:SS` in UTC, `seconds` from now.
        static func utcClockTime(secondsFromNow seconds: Int) -> String {
            var then = time(nil) + seconds
            var parts = tm()
            gmtime_r(&then, &parts)
            func twoDigits(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
            return "\(twoDigits(parts.tm_hour)):\(twoDigits(parts.tm_min)):\(twoDigits(parts.tm_sec))"
        }
    }

    /// `outpost lock`: tells the store's unlock agent to forget the key.
    struct Lock: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forget the store's unlocked key now (stops the agent `outpost unlock` started).",
            discussion: "Exits 0 whether or not the store was unlocked, and says which.")

        @OptionGroup var storeOptions: StoreOptions

        func run() throws {
            let path = storeOptions.resolvedPath()
            Console.out(AgentClient.lock(storeAt: path) ? "Locked \(path).\n" : "\(path) was not unlocked.\n")
        }
    }

    /// `outpost agent --store DIR --for SECONDS` (hidden): the unlock agent process `outpost
    /// unlock` starts. Reads the key from standard input, says `ready`, then serves until stopped.
    struct Agent: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The unlock agent started by `outpost unlock` (not for direct use).", shouldDisplay: false)

        @OptionGroup var storeOptions: StoreOptions

        @Option(name: .customLong("for"), help: "Seconds to keep the key.")
        var seconds: Int

        /// How long the key may take to arrive on standard input.
        static let keyTimeoutMilliseconds: Int64 = 5000

        func run() throws {
            let path = storeOptions.resolvedPath()
            guard path.hasPrefix("/") else { throw CLIError(.usage, "agent: --store must be an absolute path (got \(path))") }
            let lifetime: AgentDuration
            do throws(ValidationError) { lifetime = try AgentDuration(seconds: seconds) } catch {
                throw CLIError(.usage, "agent: --for \(seconds): " + error.message)
            }
            do throws(AgentSocket.Failure) {
                try Self.hardenProcess()
                let key = try UnlockAgent.KeyBuffer()
                try key.read(from: STDIN_FILENO, deadline: AgentSocket.Clock.milliseconds() + Self.keyTimeoutMilliseconds)
                // Its own session, no hold on the folder it started in.
                // `unlock` spawns it as a session leader already; started otherwise (tests), it is
                // a group leader, where setsid fails, and that is harmless.
                _ = setsid()
                _ = chdir("/")
                let stop = try Self.stopOnSignals()
                let agent = try UnlockAgent(
                    configuration: UnlockAgent.Configuration(storePath: path, lifetimeSeconds: lifetime.seconds), key: key)
                Console.out("ready\n")
                Self.detachStandardStreams()
                _ = agent.serve(stopDescriptor: stop)
            } catch {
                throw CLIError(error.code == ENAMETOOLONG || error.code == EINVAL ? .invalidInput : .failure, error.message)
            }
        }

        /// No core dumps, and no `ptrace` or `/proc/PID/mem` reads by other processes of the user.
        private static func hardenProcess() throws(AgentSocket.Failure) {
            var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
            _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &noCore)
            // prctl is variadic in C, so Swift cannot call it directly; its integer arguments pass
            // the same way through this non-variadic type on Linux's x86_64 and arm64 ABIs.
            typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
            let prSetDumpable: Int32 = 4, prGetDumpable: Int32 = 3
            guard let symbol = dlsym(nil, "prctl") else {
                throw AgentSocket.Failure(message: "cannot find prctl to make the agent undumpable", code: ENOSYS)
            }
            let prctl = unsafeBitCast(symbol, to: Prctl.self)
            guard prctl(prSetDumpable, 0, 0, 0, 0) == 0, prctl(prGetDumpable, 0, 0, 0, 0) == 0 else {
                throw AgentSocket.Failure(
                    message: "cannot make the agent undumpable (prctl: \(AgentSocket.describe(errno)))", code: errno)
            }
        }

        /// A descriptor that becomes readable on SIGTERM or SIGINT (a self-pipe: the handler only
        /// writes one byte); SIGPIPE and SIGHUP are ignored.
        private static func stopOnSignals() throws(AgentSocket.Failure) -> Int32 {
            var ends: [Int32] = [-1, -1]
            guard pipe(&ends) == 0 else {
                throw AgentSocket.Failure(message: "cannot make the signal pipe: \(AgentSocket.describe(errno))", code: errno)
            }
            for end in ends {
                _ = fcntl(end, F_SETFD, FD_CLOEXEC)
                _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            }
            agentStopSignalDescriptor = ends[1]
            for stopSignal in [SIGTERM, SIGINT] {
                signal(stopSignal) { _ in
                    let savedErrno = errno
                    var byte: UInt8 = 1
                    _ = write(agentStopSignalDescriptor, &byte, 1)
                    errno = savedErrno
                }
            }
            signal(SIGPIPE, SIG_IGN)
            signal(SIGHUP, SIG_IGN)
            var unblocked = sigset_t()
            sigemptyset(&unblocked)
            sigaddset(&unblocked, SIGTERM)
            sigaddset(&unblocked, SIGINT)
            pthread_sigmask(SIG_UNBLOCK, &unblocked, nil)
            return ends[0]
        }

        /// Points standard input, output and error at /dev/null, so the agent holds no terminal or pipe.
        private static func detachStandardStreams() {
            let null = open("/dev/null", O_RDWR)
            guard null >= 0 else { return }
            for descriptor in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] { dup2(null, descriptor) }
            if null > STDERR_FILENO { close(null) }
        }
    }
}

/// The write end of the agent's signal pipe: set once by `Agent.stopOnSignals()` before the
/// handlers are installed, then only read, by the handlers. `nonisolated(unsafe)` because a
/// signal handler can reach no other state; an aligned `Int32` load cannot tear.
nonisolated(unsafe) private var agentStopSignalDescriptor: Int32 = -1
