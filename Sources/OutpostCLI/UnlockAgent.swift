import Glibc

/// The unlock agent: keeps a store's data key in locked memory and hands it to processes of the
/// allowed user over the Unix socket `<store>/outpost.agent`, one request per connection:
/// `KEY\n` → the 32 key bytes; `STATUS\n` → `UNLOCKED <seconds left>\n`; `LOCK\n` → `OK\n` and exit.
///
/// It stops (zeroing the key, removing its socket) when the time runs out, on `LOCK`, when the
/// keyfile `<store>/outpost.key` is removed or replaced, when its socket file is removed or
/// replaced, or when its stop descriptor becomes readable (the `agent` command's signal pipe).
///
/// `@unchecked Sendable`: the mutable state (`keysServed`, `refusedPeers`, `isTornDown`) is only
/// touched by the one thread that runs `serve`; `init` finishes before that thread starts.
final class UnlockAgent: @unchecked Sendable {
    /// The socket's file name in the store folder.
    static let socketName = "outpost.agent"
    /// The keyfile's file name in the store folder (`Keyfile.fileName` in OutpostStore).
    static let keyfileName = "outpost.key"
    /// The data key's length in bytes.
    static let keyByteCount = 32
    /// The longest request line, newline included; a longer one is closed unanswered.
    static let requestByteLimit = 16
    /// How long a client has to send its request line once connected.
    static let requestTimeoutMilliseconds: Int64 = 1000
    /// How often the time, the keyfile and the socket file are checked when nothing happens.
    static let tickMilliseconds: Int64 = 1000

    /// What the agent serves and whom.
    struct Configuration: Sendable {
        /// The store folder (absolute for the `agent` command, which moves to `/`).
        var storePath: String
        /// How long the key is kept, in seconds.
        var lifetimeSeconds: Int
        /// The only user id whose connections are answered.
        var allowedUID: uid_t = getuid()
    }

    /// Why `serve` returned.
    enum ExitReason: Sendable, Equatable {
        /// The unlock time ran out.
        case timedOut
        /// A client sent `LOCK`.
        case locked
        /// The keyfile was removed or replaced.
        case keyfileChanged
        /// The socket file was removed or replaced, so no client can reach this agent.
        case socketLost
        /// The stop descriptor became readable (SIGTERM or SIGINT for the `agent` command).
        case stopRequested
    }

    /// How a `serve` run went.
    struct Outcome: Sendable, Equatable {
        /// Why it returned.
        var reason: ExitReason
        /// How many times the key was sent.
        var keysServed: Int
        /// Connections closed unanswered because their peer was not the allowed user.
        var refusedPeers: Int
    }

    /// The socket path of the store at `storePath`.
    static func socketPath(forStoreAt storePath: String) -> String { storePath + "/" + socketName }

    /// The keyfile path of the store at `storePath`.
    static func keyfilePath(forStoreAt storePath: String) -> String { storePath + "/" + keyfileName }

    private let configuration: Configuration
    private let key: KeyBuffer
    private let listener: AgentSocket
    private let socketPath: String
    private let socketStamp: FileStamp
    private let keyfilePath: String
    private let keyfileStamp: FileStamp
    /// `Clock.bootMilliseconds()` when the key is forgotten.
    private let deadline: Int64
    private var keysServed = 0
    private var refusedPeers = 0
    private var isTornDown = false

    /// Records the keyfile, stops a live agent of the store (or removes a stale socket), and listens.
    init(configuration: Configuration, key: KeyBuffer) throws(AgentSocket.Failure) {
        guard configuration.lifetimeSeconds > 0 else {
            throw AgentSocket.Failure(message: "the unlock time must be more than zero", code: EINVAL)
        }
        self.configuration = configuration
        self.key = key
        keyfilePath = Self.keyfilePath(forStoreAt: configuration.storePath)
        guard let keyfileStamp = FileStamp(of: keyfilePath, followingLinks: true) else {
            throw AgentSocket.Failure(
                message: "no keyfile at \(keyfilePath): the store is not encrypted or was wiped; nothing to unlock",
                code: ENOENT)
        }
        self.keyfileStamp = keyfileStamp
        socketPath = Self.socketPath(forStoreAt: configuration.storePath)
        _ = try AgentSocket.address(of: socketPath)
        listener = try Self.claimSocket(at: socketPath)
        guard let socketStamp = FileStamp(of: socketPath, followingLinks: false) else {
            throw AgentSocket.Failure(message: "the agent socket \(socketPath) vanished as it was made", code: ENOENT)
        }
        self.socketStamp = socketStamp
        deadline = AgentSocket.Clock.bootMilliseconds() + Int64(configuration.lifetimeSeconds) * 1000
    }

    deinit { tearDown() }

    /// Serves requests until a reason to stop, then zeroes the key and removes the socket file.
    /// Blocking: run it on a thread of its own (the `agent` command runs it on its main thread).
    func serve(stopDescriptor: Int32 = -1) -> Outcome {
        let reason = serveUntilStopped(stopDescriptor)
        tearDown()
        return Outcome(reason: reason, keysServed: keysServed, refusedPeers: refusedPeers)
    }

    private func serveUntilStopped(_ stopDescriptor: Int32) -> ExitReason {
        while true {
            if let reason = reasonToStop() { return reason }
            let wait = min(Self.tickMilliseconds, max(1, millisecondsLeft))
            var entries = [
                pollfd(fd: listener.descriptor, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stopDescriptor, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&entries, nfds_t(entries.count), Int32(wait))
            if ready < 0, errno != EINTR { return .stopRequested }
            if stopDescriptor >= 0, entries[1].revents != 0 { return .stopRequested }
            guard entries[0].revents & Int16(POLLIN) != 0 else { continue }
            // At most a backlog's worth per tick, so the checks above run between bursts.
            for _ in 0..<16 {
                guard let connection = listener.accept() else { break }
                if let reason = answer(connection) { return reason }
            }
        }
    }

    /// Answers one connection; a reason to stop when the request was `LOCK` or the agent must stop first.
    private func answer(_ connection: AgentSocket) -> ExitReason? {
        guard let peer = connection.peerCredentials(), peer.uid == configuration.allowedUID else {
            refusedPeers += 1
            return nil
        }
        let deadline = AgentSocket.Clock.milliseconds() + Self.requestTimeoutMilliseconds
        guard let request = connection.readLine(maxBytes: Self.requestByteLimit, deadline: deadline) else { return nil }
        // No answer once the time is up or the keyfile changed, even between ticks.
        if let reason = reasonToStop() { return reason }
        switch request {
        case "KEY":
            if connection.write(UnsafeRawBufferPointer(key.bytes), deadline: deadline) { keysServed += 1 }
        case "STATUS":
            _ = connection.write("UNLOCKED \((millisecondsLeft + 999) / 1000)\n", deadline: deadline)
        case "LOCK":
            // Forget first, answer after: a client told OK finds neither key nor socket.
            tearDown()
            _ = connection.write("OK\n", deadline: deadline)
            return .locked
        default:
            break
        }
        return nil
    }

    private var millisecondsLeft: Int64 { deadline - AgentSocket.Clock.bootMilliseconds() }

    /// Why the agent must stop now, if it must.
    private func reasonToStop() -> ExitReason? {
        if millisecondsLeft <= 0 { return .timedOut }
        if FileStamp(of: keyfilePath, followingLinks: true) != keyfileStamp { return .keyfileChanged }
        if FileStamp(of: socketPath, followingLinks: false)?.sameFile(as: socketStamp) != true { return .socketLost }
        return nil
    }

    /// Zeroes the key and removes the socket file if it is still this agent's; idempotent.
    private func tearDown() {
        guard !isTornDown else { return }
        isTornDown = true
        key.zero()
        if FileStamp(of: socketPath, followingLinks: false)?.sameFile(as: socketStamp) == true { unlink(socketPath) }
    }

    /// Binds `path`, first telling a live agent there to `LOCK` or removing a stale socket file.
    private static func claimSocket(at path: String) throws(AgentSocket.Failure) -> AgentSocket {
        for _ in 0..<3 {
            try retireAgent(at: path)
            do throws(AgentSocket.Failure) {
                return try AgentSocket.listening(at: path)
            } catch {
                // Another agent bound it in between: retire that one too.
                guard error.code == EADDRINUSE else { throw error }
            }
        }
        throw AgentSocket.Failure(message: "another unlock agent keeps taking \(path)", code: EADDRINUSE)
    }

    /// Leaves nothing at `path`: a live agent is told `LOCK` (and removes its socket), a socket
    /// nobody listens on is removed; anything else there is an error.
    private static func retireAgent(at path: String) throws(AgentSocket.Failure) {
        guard let stamp = FileStamp(of: path, followingLinks: false) else { return }
        guard stamp.isSocket else {
            throw AgentSocket.Failure(
                message: "\(path) exists and is not a socket; remove it before unlocking", code: EEXIST)
        }
        let socket: AgentSocket
        do throws(AgentSocket.Failure) {
            socket = try AgentSocket.connected(to: path, timeoutMilliseconds: 1000)
        } catch {
            guard error.code == ECONNREFUSED else { throw error }
            // Stale: left by an agent that was killed. Remove it unless it was just replaced.
            if FileStamp(of: path, followingLinks: false)?.sameFile(as: stamp) == true { unlink(path) }
            return
        }
        guard let peer = socket.peerCredentials(), peer.uid == getuid() else {
            throw AgentSocket.Failure(message: "\(path) is held by another user's process; not replacing it", code: EPERM)
        }
        let deadline = AgentSocket.Clock.milliseconds() + 2000
        _ = socket.write("LOCK\n", deadline: deadline)
        _ = socket.readLine(maxBytes: 8, deadline: deadline)
        // The agent removes its socket before it answers; wait a little in case it is slower.
        while FileStamp(of: path, followingLinks: false)?.sameFile(as: stamp) == true {
            guard AgentSocket.Clock.milliseconds() < deadline else {
                throw AgentSocket.Failure(message: "the unlock agent at \(path) did not stop when told to lock", code: EBUSY)
            }
            usleep(10_000)
        }
    }
}

extension UnlockAgent {
    /// The data key's bytes in memory locked out of swap and core dumps, zeroed by `zero()` and
    /// in `deinit`.
    final class KeyBuffer {
        /// The key bytes (`UnlockAgent.keyByteCount` of them) at the start of a page of their own.
        let bytes: UnsafeMutableRawBufferPointer
        private let page: UnsafeMutableRawPointer
        private let pageSize: Int

        /// A zeroed, `mlock`ed buffer; fails when the memory cannot be locked.
        init() throws(AgentSocket.Failure) {
            pageSize = max(Int(sysconf(Int32(_SC_PAGESIZE))), UnlockAgent.keyByteCount)
            page = UnsafeMutableRawPointer.allocate(byteCount: pageSize, alignment: pageSize)
            page.initializeMemory(as: UInt8.self, repeating: 0, count: pageSize)
            bytes = UnsafeMutableRawBufferPointer(start: page, count: UnlockAgent.keyByteCount)
            guard mlock(page, pageSize) == 0 else {
                let code = errno
                page.deallocate()
                throw AgentSocket.Failure(
                    message: "cannot lock the key's memory (mlock: \(AgentSocket.describe(code)))", code: code)
            }
            _ = madvise(page, pageSize, MADV_DONTDUMP)
        }

        /// Fills the buffer from `descriptor` (the `agent` command's standard input, a pipe from
        /// `outpost unlock`): exactly the key's bytes and then end of file, before `deadline`.
        func read(from descriptor: Int32, deadline: Int64) throws(AgentSocket.Failure) {
            var offset = 0
            var extra: UInt8 = 0
            while true {
                let left = deadline - AgentSocket.Clock.milliseconds()
                guard left > 0 else {
                    throw AgentSocket.Failure(message: "the key did not arrive on standard input in time", code: ETIMEDOUT)
                }
                var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                if poll(&entry, 1, Int32(min(left, 1000))) <= 0 { continue }
                let count =
                    offset < bytes.count
                    ? Glibc.read(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    : Glibc.read(descriptor, &extra, 1)
                if count < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    let code = errno
                    throw AgentSocket.Failure(
                        message: "cannot read the key from standard input: \(AgentSocket.describe(code))", code: code)
                }
                if count == 0 {
                    guard offset == bytes.count else {
                        zero()
                        throw AgentSocket.Failure(
                            message: "standard input ended after \(offset) bytes; the key is \(bytes.count)", code: EINVAL)
                    }
                    return
                }
                guard offset < bytes.count else {
                    zero()
                    throw AgentSocket.Failure(
                        message: "standard input holds more than the key's \(bytes.count) bytes", code: EINVAL)
                }
                offset += count
            }
        }

        /// Overwrites the key with zeros (`explicit_bzero`, which the compiler may not drop).
        func zero() { explicit_bzero(page, pageSize) }

        deinit {
            zero()
            munlock(page, pageSize)
            page.deallocate()
        }
    }

    /// The identity of a file: device, inode, and (for the keyfile) size and modification time.
    struct FileStamp: Equatable {
        var device: UInt64
        var inode: UInt64
        var size: Int64
        var modifiedSeconds: Int
        var modifiedNanoseconds: Int
        var isSocket: Bool

        /// The stamp of `path`, or nil when there is nothing there.
        init?(of path: String, followingLinks: Bool) {
            var info = stat()
            guard (followingLinks ? stat(path, &info) : lstat(path, &info)) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            modifiedSeconds = Int(info.st_mtim.tv_sec)
            modifiedNanoseconds = Int(info.st_mtim.tv_nsec)
            isSocket = info.st_mode & S_IFMT == S_IFSOCK
        }

        /// Whether both stamps are of the same file (device and inode).
        func sameFile(as other: FileStamp) -> Bool { device == other.device && inode == other.inode }
    }
}
