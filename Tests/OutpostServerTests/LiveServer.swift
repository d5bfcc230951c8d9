import Foundation
import Logging
import OutpostServer
import ServiceLifecycle
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Runs the real server of `configuration` on 127.0.0.1 port 0 for `body`, then stops it gracefully.
func withLiveServer<T: Sendable>(
    _ fixture: ServerFixture, configuration: ServerConfiguration? = nil, _ body: @escaping @Sendable (Int) async throws -> T
) async throws -> T {
    var configuration = configuration ?? fixture.configuration
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    configuration.onListening = { _, port in continuation.yield(port) }
    var logger = Logger(label: "live-test")
    logger.logLevel = .critical
    let app = try buildApplication(configuration: configuration, backend: fixture.backend, logger: logger)
    let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
    return try await withThrowingTaskGroup(of: T?.self) { tasks in
        tasks.addTask {
            try await group.run()
            return nil
        }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        let result: Result<T, any Error>
        do { result = .success(try await body(port)) } catch { result = .failure(error) }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return try result.get()
    }
}

/// Runs blocking socket work on a Dispatch thread: never on the cooperative pool, which the
/// server in the same process needs to answer (two blocked readers would stall it).
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}

/// A blocking TCP connection to the server for requests the test client cannot make: from another
/// loopback address, or a body sent in pieces with pauses.
final class RawConnection: @unchecked Sendable {
    // A final class owns the socket descriptor. @unchecked Sendable: a test uses a connection
    // from one task at a time (its blocking calls hop to a Dispatch thread and back).
    let fd: Int32

    /// Connects to 127.0.0.1:`port` from `source` (any 127.x.y.z address is this machine).
    init(port: Int, from source: String = "127.0.0.1", receiveTimeoutSeconds: Int = 20) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LinkError(status: 0, body: "socket failed") }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(source)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            close(fd)
            throw LinkError(status: 0, body: "bind to \(source) failed")
        }
        var timeout = timeval(tv_sec: receiveTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw LinkError(status: 0, body: "connect failed")
        }
    }

    deinit { close(fd) }

    /// Sends bytes.
    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Sends text.
    func send(_ text: String) { send(Array(text.utf8)) }

    /// Everything the server sends until it closes the connection or the receive timeout passes;
    /// `closed` tells which.
    func readToEnd() async throws -> (text: String, closed: Bool) {
        try await offPool { self.readToEndBlocking() }
    }

    private func readToEndBlocking() -> (text: String, closed: Bool) {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return (String(decoding: out, as: UTF8.self), true) }
            if n < 0 { return (String(decoding: out, as: UTF8.self), errno == ECONNRESET) }
            out.append(contentsOf: buffer[0..<n])
        }
    }

    /// One request with `Connection: close`; the whole response as text.
    static func request(
        port: Int, from source: String = "127.0.0.1", method: String = "GET", path: String, headers: [String: String] = [:],
        body: [UInt8] = []
    ) async throws -> String {
        try await offPool {
            try requestBlocking(port: port, from: source, method: method, path: path, headers: headers, body: body)
        }
    }

    private static func requestBlocking(
        port: Int, from source: String, method: String, path: String, headers: [String: String], body: [UInt8]
    ) throws -> String {
        let connection = try RawConnection(port: port, from: source)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
        connection.send(head + "\r\n")
        if !body.isEmpty { connection.send(body) }
        return connection.readToEndBlocking().text
    }
}

/// The status code of a raw HTTP response ("HTTP/1.1 429 …" → 429), or 0.
func statusCode(_ response: String) -> Int {
    let parts = response.split(separator: " ", maxSplits: 2)
    return parts.count >= 2 ? Int(parts[1]) ?? 0 : 0
}

/// A header's value in a raw HTTP response (case-insensitive name).
func headerValue(_ response: String, _ name: String) -> String? {
    let head = response.components(separatedBy: "\r\n\r\n").first ?? ""
    for line in head.components(separatedBy: "\r\n").dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        if line[..<colon].lowercased() == name.lowercased() {
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }
    return nil
}

/// A clock tests move by hand (ms).
final class ManualClock: @unchecked Sendable {
    // @unchecked Sendable: `now` is only read and written under `lock`.
    private let lock = NSLock()
    private var now: Int64

    init(_ start: Int64 = 1_700_000_000_000) { now = start }

    func advance(ms: Int64) { lock.withLock { now += ms } }

    var read: @Sendable () -> Int64 { { [self] in lock.withLock { now } } }
}
