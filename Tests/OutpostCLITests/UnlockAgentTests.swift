import ArgumentParser
import Crypto
import Foundation
import Glibc
import OutpostStore
import OutpostTestSupport
import Testing

@testable import OutpostCLI

/// The unlock agent (issue 13): `outpost unlock` / `outpost lock`, the hidden `outpost agent`
/// process, its socket protocol and its reasons to stop, and the agent in-process for the peer
/// uid check. Every test stops the agents it starts (LOCK, then SIGTERM, in a defer).
@Suite("unlock agent")
struct UnlockAgentTests {
    // MARK: - Fixtures

    /// A store folder (mode 0700) with a keyfile in it and a random data key.
    struct AgentStore {
        let folder: TempFolder
        let key: [UInt8]

        /// The absolute store path (the `agent` command needs one).
        var path: String { folder.store }
        var socketPath: String { UnlockAgent.socketPath(forStoreAt: path) }
        var keyfilePath: String { UnlockAgent.keyfilePath(forStoreAt: path) }

        static func make() throws -> AgentStore {
            let folder = try TempFolder.make()
            try FileManager.default.createDirectory(
                atPath: folder.store, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let store = AgentStore(folder: folder, key: randomBytes(32))
            // A real keyfile wrapping the key under the test passphrase (the agent itself only
            // checks that the keyfile stays the same file).
            try Keyfile.create(
                passphrase: TestPassphrase.text, reporter: "agent", dataKey: SymmetricKey(data: store.key), log2N: 10
            ).write(inStore: store.path)
            return store
        }

        /// A file holding the passphrase that opens the store's keyfile.
        func passphraseFile() -> String {
            folder.write("passphrase", TestPassphrase.text + "\n")
        }
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    static func bytes(of key: SymmetricKey?) -> [UInt8]? { key?.withUnsafeBytes { Array($0) } }

    /// Launches `outpost agent` directly with `key` on its standard input; returns it with the
    /// first line it printed ("ready\n", or "" when it failed) and its standard error.
    static func launchAgentProcess(
        _ store: AgentStore, key: [UInt8], seconds: Int = 900
    ) throws -> (process: Process, firstLine: String, errors: Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try CLIRunner.requireBinary())
        process.arguments = ["agent", "--store", store.path, "--for", String(seconds)]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(key))
        try input.fileHandleForWriting.close()
        let line = output.fileHandleForReading.readData(ofLength: 6)
        return (process, String(decoding: line, as: UTF8.self), errors)
    }

    /// Starts `outpost agent` directly with `key` (default: the store's) and waits for `ready`.
    static func startAgentProcess(_ store: AgentStore, key: [UInt8]? = nil, seconds: Int = 900) throws -> Process {
        let launched = try launchAgentProcess(store, key: key ?? store.key, seconds: seconds)
        try #require(launched.firstLine == "ready\n", "the agent did not start")
        return launched.process
    }

    /// Runs `outpost agent` expecting it to fail; its exit status and standard error.
    static func failingAgentProcess(_ store: AgentStore, key: [UInt8]) throws -> (status: Int32, stderr: String) {
        let launched = try launchAgentProcess(store, key: key)
        defer { stopAgents(store, [launched.process.processIdentifier]) }
        #expect(launched.firstLine == "")
        launched.process.waitUntilExit()
        let stderr = String(decoding: launched.errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (launched.process.terminationStatus, stderr)
    }

    /// The process id of the agent listening at the store's socket (`SO_PEERCRED` of a connection).
    static func agentPID(_ store: AgentStore) -> pid_t? {
        guard let socket = try? AgentSocket.connected(to: store.socketPath, timeoutMilliseconds: 2000) else { return nil }
        return socket.peerCredentials()?.pid
    }

    /// Whether process `pid` is gone (or a zombie no one has reaped yet).
    static func isGone(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state == "Z" || state == "X"
    }

    /// Polls until `pid` is gone; false if it is still there after 30 s (a bound, not a timing check).
    static func waitUntilGone(_ pid: pid_t) -> Bool {
        for _ in 0..<600 {
            if isGone(pid) { return true }
            usleep(50_000)
        }
        return isGone(pid)
    }

    /// Stops whatever agent serves `store`, however the test ended.
    static func stopAgents(_ store: AgentStore, _ pids: [pid_t?] = []) {
        AgentClient.lock(storeAt: store.path)
        for case let pid? in pids where !isGone(pid) { kill(pid, SIGTERM) }
    }

    /// An `UnlockAgent` serving on a thread of its own in this process, stopped through a pipe.
    final class InProcessAgent: @unchecked Sendable {
        // @unchecked Sendable: `outcome` is written once by the serving thread before it signals
        // `finished`, and read only after waiting for `finished`.
        private let stopWrite: Int32
        private let stopRead: Int32
        private let finished = DispatchSemaphore(value: 0)
        private var outcome: UnlockAgent.Outcome?

        /// The agent's key buffer, to look at after it stops.
        let key: UnlockAgent.KeyBuffer

        init(_ store: AgentStore, allowedUID: uid_t = getuid(), seconds: Int = 900) throws {
            var ends: [Int32] = [-1, -1]
            try #require(pipe(&ends) == 0)
            stopRead = ends[0]
            stopWrite = ends[1]
            key = try UnlockAgent.KeyBuffer()
            key.bytes.copyBytes(from: store.key)
            let agent = try UnlockAgent(
                configuration: UnlockAgent.Configuration(
                    storePath: store.path, lifetimeSeconds: seconds, allowedUID: allowedUID),
                key: key)
            let thread = Thread { [self] in
                let result = agent.serve(stopDescriptor: stopRead)
                outcome = result
                finished.signal()
            }
            thread.start()
        }

        /// Stops the agent (if it still runs) and returns how its run went.
        @discardableResult
        func stop() throws -> UnlockAgent.Outcome {
            var byte: UInt8 = 1
            _ = write(stopWrite, &byte, 1)
            return try waitForExit()
        }

        /// Waits (30 s at most, a bound and not a timing check) until the agent stops by itself.
        func waitForExit() throws -> UnlockAgent.Outcome {
            try #require(finished.wait(timeout: .now() + 30) == .success, "the agent thread did not stop")
            finished.signal()
            return try #require(outcome)
        }

        deinit {
            close(stopRead)
            close(stopWrite)
        }
    }

    // MARK: - unlock, KEY, STATUS, lock

    /// `outpost unlock` starts an agent that gives the same key bytes and its time left; `outpost
    /// lock` stops it, and then the socket is gone, the client gets nil and the process exits.
    @Test func unlockServesTheKeyAndLockForgetsIt() throws {
        let store = try AgentStore.make()
        defer { store.folder.remove() }
        var pid: pid_t?
        defer { Self.stopAgents(store, [pid]) }

        let unlock = try CLIRunner.run(
            ["unlock", "--for", "15m", "--passphrase-file", store.passphraseFile()], store: store.path)
        try #require(unlock.status == 0, "unlock failed: \(unlock.stderr)")
        #expect(unlock.stdout.hasPrefix("Unlocked \(store.path) for 15m (until "))
        #expect(unlock.stdout.hasSuffix(" UTC); `outpost lock` forgets the key.\n"))

        pid = Self.agentPID(store)
        let agent = try #require(pid)
        #expect(Self.bytes(of: AgentClient.dataKey(forStoreAt: store.path)) == store.key)
        #expect(Self.bytes(of: AgentClient.dataKey(forStoreAt: store.path)) == store.key)
        let left = try #require(AgentClient.status(storeAt: store.path))
        #expect((880...900).contains(left))

        // The socket is the user's alone; the key is in locked memory, not on the command line.
        var info = stat()
        #expect(lstat(store.socketPath, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let status = try String(contentsOfFile: "/proc/\(agent)/status", encoding: .utf8)
        let lockedKB = status.split(separator: "\n").first { $0.hasPrefix("VmLck:") }
            .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") }
        #expect((lockedKB ?? 0) >= 4, "the key buffer is not mlocked: \(lockedKB ?? 0) kB locked")
        let commandLine = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(agent)/cmdline"))
        #expect(commandLine.range(of: Data(store.key)) == nil)
        #expect(!String(decoding: commandLine, as: UTF8.self).contains(store.key.map { String(format: "%02x", $0) }.joined()))
        // Its descriptors: /dev/null, the socket, the signal pipe; nothing of the test's or the store's files.
        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(agent)/fd")
        for descriptor in descriptors {
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(agent)/fd/\(descriptor)")) ?? ""
            #expect(
                target == "/dev/null" || target.hasPrefix("socket:") || target.hasPrefix("pipe:")
                    || target.hasPrefix("anon_inode:"), "the agent holds fd \(descriptor) -> \(target)")
        }

        let lock = try CLIRunner.run(["lock"], store: store.path)
        #expect(lock.status == 0)
        #expect(lock.stdout == "Locked \(store.path).\n")
        #expect(!FileManager.default.fileExists(atPath: store.socketPath))
        #expect(AgentClient.dataKey(forStoreAt: store.path) == nil)
        #expect(AgentClient.status(storeAt: store.path) == nil)
        #expect(Self.waitUntilGone(agent), "the agent process outlived LOCK")

        let again = try CLIRunner.run(["lock"], store: store.path)
        #expect(again.status == 0)
        #expect(again.stdout == "\(store.path) was not unlocked.\n")
    }

    /// A second `unlock` replaces the running agent: the first one exits, the new key is served.
    @Test func unlockReplacesARunningAgent() throws {
        let store = try AgentStore.make()
        defer { store.folder.remove() }
        let first = try Self.startAgentProcess(store, key: Self.randomBytes(32))
        defer { Self.stopAgents(store, [first.processIdentifier]) }
        #expect(Self.bytes(of: AgentClient.dataKey(forStoreAt: store.path)) != store.key)

        let second = try Self.startAgentProcess(store)
        defer { Self.stopAgents(store, [second.processIdentifier]) }
        #expect(Self.waitUntilGone(first.processIdentifier), "the replaced agent still runs")
        #expect(Self.agentPID(store) == second.processIdentifier)
        #expect(Self.bytes(of: AgentClient.dataKey(forStoreAt: store.path)) == store.key)
    }

    // MARK: - Reasons to stop

    /// `--for 2s` runs out: the agent exits by itself and removes its socket.
    @Test func agentForgetsTheKeyWhenTheTimeRunsOut() throws {
        let store = try AgentStore.make()
        defer { store.folder.remove() }
        let agent = try Self.startAgentProcess(store, seconds: 2)
        defer { Self.stopAgents(store, [agent.processIdentifier]) }
        let left = try #require(AgentClient.status(storeAt: store.path))
        #expect((1...2).contains(left))
        #expect(Self.waitUntilGone(agent.processIdentifier), "the agent outlived its time")
        #expect(agent.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: store.socketPath))
        #expect(AgentClient.dataKey(forStoreAt: store.path) == nil)
    }

    /// The keyfile removed (as `wipe` does first): the agent exits within a tick.
    @Test func agentStopsWhenTheKeyfileIsRemoved() throws {
        let store = try AgentStore.make()
        defer { store.folder.remove() }
        let agent = try Self.startAgentProcess(store)
        defer { Self.stopAgents(store, [agent.processIdentifier]) }
        #expect(Self.bytes(of: AgentClient.dataKey(forStoreAt: store.path)) == store.key)
        try FileManager.default.removeItem(atPath: store.keyfilePath)
        #expect(Self.waitUntilGone(agent.processIdentifier), "the agent outlived its keyfile")
        #expect(!FileManager.default.fileExists(atPath: store.socketPath))
        #expect(AgentClient.dataKey(forStoreAt: store.path) == nil)
    }

    /// The keyfile replaced by another file (rename over it, as a passphrase change does): the agent exits.
    @Test func agentStopsWhenTheKeyfileIsReplaced() throws {
        let store = try AgentStore.make()
        defer { store.folder.remove() }
        let agent = try Self.startAgentProcess(store)
        defer { Self.stopAgents(store, [agent.processIdentifier]) }
        let replacement = store.folder.write("new.key", "another keyfile")
        #expect(rename(replacement, store.keyfilePath) == 0)
        #expect(Self.waitUntilGone(agent.processIdentifier), "the agent outlived the replaced keyfile")
        #expect(AgentClient.dataKey(forStoreAt: store.path) == nil)
    }

    /// SIGTERM: the agent exits cleanly (status 0) and removes its socket.
    @Test func agentStopsCleanlyOnSIGTERM() throws {
        let store = try AgentStore.make()
        defer { store.folder.remove() }
        let agent = try Self.startAgentProcess(store)
        defer { Self.stopAgents(store, [agent.processIdentifier]) }
        #expect(kill(agent.processIdentifier, SIGTERM) == 0)
        agent.waitUntilExit()
        #expect(agent.terminationReason == .exit && agent.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: store.socketPath))
    }

    /// An agent refuses to start without a keyfile (a plaintext store has nothing to unlock).
    @Test func agentRefusesAStoreWithoutKeyfile() throws {
        let store = try AgentStore.make()
        defer { store.folder.remove() }
        try FileManager.default.removeItem(atPath: store.keyfilePath)
        let agent = try Self.failingAgentProcess(store, key: store.key)
        #expect(agent.status == 1)
        #expect(agent.stderr.contains("no keyfile at \(store.keyfilePath)"), "\(agent.stderr)")
        #expect(!FileManager.default.fileExists(atPath: store.socketPath))
    }

    /// The key on standard input must be exactly 32 bytes: fewer or more is refused (exit 6).
    @Test(arguments: [0, 5, 31, 33, 64])
    func agentRefusesAKeyOfTheWrongLength(length: Int) throws {
        let store = try AgentStore.make()
        defer { store.folder.remove() }
        let agent = try Self.failingAgentProcess(store, key: Self.randomBytes(length))
        #expect(agent.status == 6)
        #expect(
            agent.stderr.contains(
                length < 32
                    ? "standard input ended after \(length) bytes; the key is 32"
                    : "standard input holds more than the key's 32 bytes"), "\(agent.stderr)")
        #expect(!FileManager.default.fileExists(atPath: store.socketPath))
    }

    /// `outpost unlock` relays why its agent could not start.
    @Test func unlockSaysWhyTheAgentDidNotStart() throws {
        let store = try AgentStore.make()
        defer { store.folder.remove() }
        #expect(FileManager.default.createFile(atPath: store.socketPath, contents: Data("mine".utf8)))
        let unlock = try CLIRunner.run(["unlock", "--passphrase-file", store.passphraseFile()], store: store.path)
        #expect(unlock.status == 1)
        #expect(
            unlock.stderr.contains("the unlock agent did not start: \(store.socketPath) exists and is not a socket"),
            "\(unlock.stderr)")
        #expect(FileManager.default.contents(atPath: store.socketPath) == Data("mine".utf8))
    }

    /// LOCK zeroes the key in the agent's memory before it answers OK, and removes the socket.
    @Test func lockZeroesTheKeyBuffer() throws {
        let store = try AgentStore.make()
        defer { store.folder.remove() }
        let agent = try InProcessAgent(store)
        defer { _ = try? agent.stop() }
        // Positive control: the buffer holds the key while the agent serves.
        #expect(Array(agent.key.bytes) == store.key)
        #expect(AgentClient.lock(storeAt: store.path))
        #expect(!FileManager.default.fileExists(atPath: store.socketPath))
        let outcome = try agent.waitForExit()
        #expect(outcome.reason == .locked)
        #expect(agent.key.bytes.allSatisfy { $0 == 0 })
    }

    /// The socket file removed (nobody can reach the agent any more): the agent stops and zeroes the key.
    @Test func agentStopsWhenItsSocketIsRemoved() throws {
        let store = try AgentStore.make()
        defer { store.folder.remove() }
        let agent = try InProcessAgent(store)
        defer { _ = try? agent.stop() }
        #expect(unlink(store.socketPath) == 0)
        let outcome = try agent.waitForExit()
        #expect(outcome.reason == .socketLost)
        #expect(agent.key.bytes.allSatisfy { $0 == 0 })
    }

    // MARK: - Who may ask

    /// A connection from a user other than the allowed one is closed unanswered and counted;
    /// positive control: the same connection from the allowed user gets the key.
    @Test func anotherUsersConnectionIsRefused() throws {
        let store = try AgentStore.make()
        defer { store.folder.remove() }

        let refusing = try InProcessAgent(store, allowedUID: getuid() &+ 1)
        #expect(AgentClient.dataKey(forStoreAt: store.path) == nil)
        #expect(AgentClient.status(storeAt: store.path) == nil)
        #expect(AgentClient.lock(storeAt: store.path) == false)
        let refused = try refusing.stop()
        #expect(refused.reason == .stopRequested)
        #expect(refused.refusedPeers == 3)
        #expect(refused.keysServed == 0)
        #expect(!FileManager.default.fileExists(atPath: store.socketPath))

        let answering = try InProcessAgent(store)
        #expect(Self.bytes(of: AgentClient.dataKey(forStoreAt: store.path)) == store.key)
        let served = try answering.stop()
        #expect(served.refusedPeers == 0)
        #expect(served.keysServed == 1)
    }

    /// A request line too long, or unknown, is closed unanswered; the agent serves the next client.
    @Test func malformedRequestsGetNoAnswer() throws {
        let store = try AgentStore.make()
        defer { store.folder.remove() }
        let agent = try InProcessAgent(store)
        defer { _ = try? agent.stop() }
        for request in [String(repeating: "K", count: 100) + "\n", "KEYS\n", "HELLO\n", "KEY"] {
            let socket = try AgentSocket.connected(to: store.socketPath, timeoutMilliseconds: 2000)
            let deadline = AgentSocket.Clock.milliseconds() + 10_000
            #expect(socket.write(request, deadline: deadline))
            if request == "KEY" { shutdown(socket.descriptor, Int32(SHUT_WR)) }
            var reply = [UInt8](repeating: 0, count: 1)
            let answered = reply.withUnsafeMutableBytes { socket.read(into: $0, deadline: deadline) }
            #expect(!answered, "the agent answered \(request.prefix(10))")
        }
        #expect(Self.bytes(of: AgentClient.dataKey(forStoreAt: store.path)) == store.key)
        #expect(try agent.stop().keysServed == 1)
    }

    /// A client that connects and says nothing holds the agent for the request timeout only: a
    /// second client still gets its answer (waited for up to 30 s, a bound and not a timing check).
    @Test func silentClientDoesNotHangTheAgent() throws {
        let store = try AgentStore.make()
        defer { store.folder.remove() }
        let agent = try InProcessAgent(store)
        defer { _ = try? agent.stop() }
        let silent = try AgentSocket.connected(to: store.socketPath, timeoutMilliseconds: 2000)
        let asking = try AgentSocket.connected(to: store.socketPath, timeoutMilliseconds: 2000)
        let deadline = AgentSocket.Clock.milliseconds() + 30_000
        #expect(asking.write("STATUS\n", deadline: deadline))
        let answer = asking.readLine(maxBytes: 32, deadline: deadline)
        #expect(answer?.hasPrefix("UNLOCKED ") == true, "no answer while a silent client is connected")
        // The silent client was closed unanswered.
        #expect(silent.waitForPeerClose(deadline: deadline))
        withExtendedLifetime(silent) {}
    }

    // MARK: - Stale sockets

    /// A socket file nobody listens on (an agent killed with SIGKILL) is removed by the client,
    /// which answers nil; a new agent starts over one too.
    @Test func staleSocketIsRemoved() throws {
        let store = try AgentStore.make()
        defer { store.folder.remove() }
        func leaveStaleSocket() throws {
            _ = try AgentSocket.listening(at: store.socketPath)
            #expect(FileManager.default.fileExists(atPath: store.socketPath))
        }
        try leaveStaleSocket()
        #expect(AgentClient.dataKey(forStoreAt: store.path) == nil)
        #expect(!FileManager.default.fileExists(atPath: store.socketPath))

        try leaveStaleSocket()
        let agent = try Self.startAgentProcess(store)
        defer { Self.stopAgents(store, [agent.processIdentifier]) }
        #expect(Self.bytes(of: AgentClient.dataKey(forStoreAt: store.path)) == store.key)

        // A killed agent leaves its socket behind; the next client cleans it up.
        #expect(kill(agent.processIdentifier, SIGKILL) == 0)
        agent.waitUntilExit()
        #expect(FileManager.default.fileExists(atPath: store.socketPath))
        #expect(AgentClient.status(storeAt: store.path) == nil)
        #expect(!FileManager.default.fileExists(atPath: store.socketPath))
    }

    /// Something other than a socket at the socket's path is left alone (by the client and the agent) and named.
    @Test func nonSocketAtTheSocketPathIsNotRemoved() throws {
        let store = try AgentStore.make()
        defer { store.folder.remove() }
        #expect(FileManager.default.createFile(atPath: store.socketPath, contents: Data("mine".utf8)))
        #expect(AgentClient.dataKey(forStoreAt: store.path) == nil)
        #expect(FileManager.default.contents(atPath: store.socketPath) == Data("mine".utf8))
        let agent = try Self.failingAgentProcess(store, key: store.key)
        #expect(agent.status == 1)
        #expect(agent.stderr.contains("\(store.socketPath) exists and is not a socket"), "\(agent.stderr)")
        #expect(FileManager.default.contents(atPath: store.socketPath) == Data("mine".utf8))
    }

    // MARK: - Refused command lines

    /// `--for` outside 1 s...24 h, or not a duration, exits 2 and names the problem.
    @Test(arguments: [
        ("0s", "more than zero"), ("25h", "at most 24h"), ("1441m", "at most 24h"), ("abc", "\"abc\" is not a duration"),
        ("15", "\"15\" is not a duration"), ("-5m", "\"-5m\" is not a duration"), ("", "Missing value for '--for"),
    ])
    func unlockRefusesABadDuration(text: String, problem: String) throws {
        let store = try AgentStore.make()
        defer { store.folder.remove() }
        let unlock = try CLIRunner.run(
            ["unlock", "--for=" + text, "--passphrase-file", store.passphraseFile()], store: store.path)
        #expect(unlock.status == 2)
        #expect(unlock.stderr.contains(problem), "\(unlock.stderr)")
        #expect(!FileManager.default.fileExists(atPath: store.socketPath))
    }

    /// Durations in seconds, minutes and hours up to 24h parse; their shortest form is printed.
    @Test func durationsParse() throws {
        #expect(try AgentDuration(parsing: "30s").seconds == 30)
        #expect(try AgentDuration(parsing: "15m").seconds == 900)
        #expect(try AgentDuration(parsing: "2h").seconds == 7200)
        #expect(try AgentDuration(parsing: "24h").seconds == 86_400)
        #expect(try AgentDuration(parsing: "1440m").description == "24h")
        #expect(try AgentDuration(parsing: "90s").description == "90s")
        #expect(try AgentDuration(parsing: "120s").description == "2m")
        #expect(throws: ValidationError.self) { try AgentDuration(parsing: "86401s") }
        #expect(throws: ValidationError.self) { try AgentDuration(parsing: "9999999999999999999h") }
    }

    /// A store path whose socket path does not fit `sun_path` fails with exit 6 before any
    /// passphrase is asked (none is given here, which would otherwise fail with exit 15).
    @Test func socketPathTooLongIsRefusedClearly() throws {
        let folder = try TempFolder.make()
        defer { folder.remove() }
        let store = folder.path + "/" + String(repeating: "s", count: 120)
        let unlock = try CLIRunner.run(["unlock"], store: store)
        #expect(unlock.status == 6)
        #expect(unlock.stderr.contains("more than the 107 a Unix socket path may have"), "\(unlock.stderr)")
        #expect(AgentClient.dataKey(forStoreAt: store) == nil)
    }
}
