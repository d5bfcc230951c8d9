import Glibc

/// A Unix stream socket of the unlock agent: owns its descriptor and closes it in `deinit`.
///
/// Every read and write waits with `poll()` up to a deadline, so a stuck peer cannot hang either side.
final class AgentSocket {
    /// A socket call that failed, with the `errno` it set (0 when none).
    struct Failure: Error, Sendable, CustomStringConvertible {
        /// What failed, naming the path.
        var message: String
        /// The `errno` of the failed call.
        var code: Int32

        var description: String { message }
    }

    /// The longest socket path that fits `sun_path` (108 bytes with its terminating NUL).
    static let maxPathBytes = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// The descriptor, open until `deinit`.
    let descriptor: Int32

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// The address of `path`, or a failure naming the length limit when it does not fit.
    static func address(of path: String) throws(Failure) -> sockaddr_un {
        let bytes = Array(path.utf8)
        guard bytes.count <= maxPathBytes else {
            throw Failure(
                message: "the agent socket path \(path) is \(bytes.count) bytes, more than the \(maxPathBytes) "
                    + "a Unix socket path may have; use a store folder with a shorter path",
                code: ENAMETOOLONG)
        }
        guard !bytes.isEmpty, !bytes.contains(0) else {
            throw Failure(message: "the agent socket path \"\(path)\" is empty or holds a NUL byte", code: EINVAL)
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { sunPath in
            sunPath.copyBytes(from: bytes)
            sunPath[bytes.count] = 0
        }
        return address
    }

    /// A new non-blocking listening socket bound at `path` (which must not exist), mode 0600.
    static func listening(at path: String, backlog: Int32 = 16) throws(Failure) -> AgentSocket {
        var address = try self.address(of: path)
        let socket = try makeSocket(path)
        // No moment where the socket file is open to others: the umask covers bind, chmod confirms.
        let oldMask = umask(0o077)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket.descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        let bindError = errno
        umask(oldMask)
        guard bound == 0 else {
            throw Failure(message: "cannot bind the agent socket \(path): \(describe(bindError))", code: bindError)
        }
        guard chmod(path, 0o600) == 0, listen(socket.descriptor, backlog) == 0 else {
            let code = errno
            unlink(path)
            throw Failure(message: "cannot listen on the agent socket \(path): \(describe(code))", code: code)
        }
        try socket.setNonBlocking(path)
        return socket
    }

    /// A socket connected to `path`; connecting waits at most `timeoutMilliseconds` when the backlog is full.
    static func connected(to path: String, timeoutMilliseconds: Int) throws(Failure) -> AgentSocket {
        var address = try self.address(of: path)
        let socket = try makeSocket(path)
        var timeout = timeval(tv_sec: timeoutMilliseconds / 1000, tv_usec: (timeoutMilliseconds % 1000) * 1000)
        setsockopt(socket.descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        while true {
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(socket.descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            if result == 0 { break }
            let code = errno
            if code == EINTR { continue }
            throw Failure(message: "cannot connect to the agent socket \(path): \(describe(code))", code: code)
        }
        try socket.setNonBlocking(path)
        return socket
    }

    /// The next pending connection (non-blocking, close-on-exec), or nil when none is waiting.
    func accept() -> AgentSocket? {
        // accept4 needs _GNU_SOURCE, which the Glibc module lacks; the agent never execs, so
        // close-on-exec set after accept is enough.
        while true {
            let fd = Glibc.accept(descriptor, nil, nil)
            if fd >= 0 {
                let connection = AgentSocket(descriptor: fd)
                _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                guard (try? connection.setNonBlocking("an accepted connection")) != nil else { continue }
                return connection
            }
            if errno == EINTR || errno == ECONNABORTED { continue }
            return nil
        }
    }

    /// The peer's process id, user id and group id (`SO_PEERCRED`): for an accepted socket the
    /// connecting process, for a connected one the process that listens.
    func peerCredentials() -> PeerCredentials? {
        var credentials = PeerCredentials(pid: 0, uid: uid_t.max, gid: gid_t.max)
        var length = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0,
            length == socklen_t(MemoryLayout<PeerCredentials>.size)
        else { return nil }
        return credentials
    }

    /// Linux's `struct ucred` (`<sys/socket.h>`), which the Glibc module hides behind _GNU_SOURCE:
    /// the same three 32-bit fields in the same order, filled by `getsockopt(SO_PEERCRED)`.
    struct PeerCredentials: Sendable, Equatable {
        var pid: pid_t
        var uid: uid_t
        var gid: gid_t
    }

    /// Reads up to and without the first newline; nil when `maxBytes` pass without one, the peer
    /// closes first, or `deadline` (a `Clock.milliseconds()` reading) passes.
    func readLine(maxBytes: Int, deadline: Int64) -> String? {
        var line: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: maxBytes)
        while line.count < maxBytes {
            guard waitUntil(POLLIN, deadline: deadline) else { return nil }
            let wanted = maxBytes - line.count
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, wanted, 0) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return nil
            }
            if count == 0 { return nil }
            if let newline = chunk[0..<count].firstIndex(of: UInt8(ascii: "\n")) {
                line += chunk[0..<newline]
                return String(decoding: line, as: UTF8.self)
            }
            line += chunk[0..<count]
        }
        return nil
    }

    /// Fills `buffer` completely; false when the peer closes first or `deadline` passes.
    func read(into buffer: UnsafeMutableRawBufferPointer, deadline: Int64) -> Bool {
        var offset = 0
        while offset < buffer.count {
            guard waitUntil(POLLIN, deadline: deadline) else { return false }
            let count = recv(descriptor, buffer.baseAddress! + offset, buffer.count - offset, 0)
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return false
            }
            if count == 0 { return false }
            offset += count
        }
        return true
    }

    /// True once the peer has closed its end (or the socket failed) before `deadline`.
    func waitForPeerClose(deadline: Int64) -> Bool {
        var byte: UInt8 = 0
        while waitUntil(POLLIN, deadline: deadline) {
            let count = recv(descriptor, &byte, 1, 0)
            if count == 0 { return true }
            if count < 0, errno != EINTR, errno != EAGAIN { return true }
        }
        return false
    }

    /// Writes all of `bytes` (never raising SIGPIPE); false when the peer is gone or `deadline` passes.
    func write(_ bytes: UnsafeRawBufferPointer, deadline: Int64) -> Bool {
        var offset = 0
        while offset < bytes.count {
            guard waitUntil(POLLOUT, deadline: deadline) else { return false }
            let count = send(descriptor, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return false
            }
            offset += count
        }
        return true
    }

    /// Writes a text line's bytes (see `write(_:deadline:)`).
    func write(_ text: String, deadline: Int64) -> Bool {
        Array(text.utf8).withUnsafeBytes { write($0, deadline: deadline) }
    }

    /// Waits until the socket is ready for `events` or `deadline` passes.
    private func waitUntil(_ events: Int32, deadline: Int64) -> Bool {
        while true {
            let left = deadline - Clock.milliseconds()
            if left <= 0 { return false }
            var entry = pollfd(fd: descriptor, events: Int16(events), revents: 0)
            let ready = poll(&entry, 1, Int32(min(left, 1000)))
            if ready > 0 { return true }
            if ready < 0, errno != EINTR { return false }
        }
    }

    private static func makeSocket(_ path: String) throws(Failure) -> AgentSocket {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            let code = errno
            throw Failure(message: "cannot make a socket for \(path): \(describe(code))", code: code)
        }
        return AgentSocket(descriptor: fd)
    }

    private func setNonBlocking(_ path: String) throws(Failure) {
        let flags = fcntl(descriptor, F_GETFL)
        guard flags >= 0, fcntl(descriptor, F_SETFL, flags | O_NONBLOCK) == 0 else {
            let code = errno
            throw Failure(message: "cannot configure the agent socket \(path): \(Self.describe(code))", code: code)
        }
    }

    /// `strerror` of `code`.
    static func describe(_ code: Int32) -> String { String(cString: strerror(code)) }

    /// Millisecond readings of clocks the agent and its client time themselves with.
    enum Clock {
        /// `CLOCK_MONOTONIC` in milliseconds: for short waits.
        static func milliseconds() -> Int64 { reading(CLOCK_MONOTONIC) }

        /// `CLOCK_BOOTTIME` in milliseconds: it keeps counting while the machine is suspended, so an
        /// unlock time runs out on a laptop that slept through it.
        static func bootMilliseconds() -> Int64 { reading(CLOCK_BOOTTIME) }

        private static func reading(_ clock: clockid_t) -> Int64 {
            var now = timespec()
            clock_gettime(clock, &now)
            return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
        }
    }
}
