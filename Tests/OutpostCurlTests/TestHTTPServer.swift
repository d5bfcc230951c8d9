import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What the scripted test server does with one request.
enum ServerAction: Sendable {
    /// Answer with a status, extra headers and a body (Content-Length is added).
    case respond(status: Int, headers: [HTTPField] = [], body: [UInt8] = [])
    /// Close the connection without answering.
    case closeWithoutReply
    /// Abort the connection with a TCP reset (SO_LINGER 0).
    case reset
    /// Send headers promising `declaredLength` bytes, send `body`, then close.
    case partial(declaredLength: Int, body: [UInt8])
    /// Never answer; hold the connection until the client gives up or the server stops.
    case stall
}

/// A header field in the test server's script.
struct HTTPField: Sendable {
    var name: String
    var value: String
    init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// One request as the test server parsed it.
struct ReceivedRequest: Sendable {
    var method: String
    var path: String
    /// Lower-cased names.
    var headers: [String: String]
    var body: [UInt8]
    /// 0-based index of the connection it arrived on.
    var connection: Int
    /// 0-based index among all requests this server received.
    var index: Int
}

/// A tiny scripted HTTP/1.1 server on 127.0.0.1 (POSIX sockets, one thread per connection).
final class TestHTTPServer: @unchecked Sendable {
    // @unchecked Sendable: mutable state (`stopped`, counters, `requestLog`, `openFDs`) is only
    // accessed under `lock`; everything else is immutable after init.
    let port: UInt16
    private let listenFD: Int32
    private let dropFirstConnections: Int
    private let handler: @Sendable (ReceivedRequest) -> ServerAction
    private let lock = NSLock()
    private var stopped = false
    private var accepted = 0
    private var requestLog: [ReceivedRequest] = []
    private var openFDs: Set<Int32> = []

    /// Starts listening on an ephemeral port. The first `dropFirstConnections` connections are
    /// reset right after accept; every request is answered as `handler` says.
    init(dropFirstConnections: Int = 0, handler: @escaping @Sendable (ReceivedRequest) -> ServerAction) throws {
        self.dropFirstConnections = dropFirstConnections
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            close(fd)
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = UInt16(bigEndian: address.sin_port)
        listenFD = fd
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    deinit { stop() }

    /// `http://127.0.0.1:PORT`
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// TCP connections accepted so far.
    var connectionCount: Int { lock.withLock { accepted } }

    /// Requests received so far, in order.
    var requests: [ReceivedRequest] { lock.withLock { requestLog } }

    /// Stops accepting and shuts every open connection down; threads close their own sockets.
    func stop() {
        let fds: Set<Int32> = lock.withLock {
            stopped = true
            return openFDs
        }
        for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    private func acceptLoop() {
        defer { close(listenFD) }
        while !isStopped {
            var pfd = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 50) > 0 else { continue }
            let client = accept(listenFD, nil, nil)
            guard client >= 0 else { continue }
            let index: Int? = lock.withLock {
                if stopped { return nil }
                accepted += 1
                openFDs.insert(client)
                return accepted - 1
            }
            guard let index else {
                close(client)
                return
            }
            if index < dropFirstConnections {
                finish(client, reset: true)
                continue
            }
            let thread = Thread { [self] in serve(client, connection: index) }
            thread.start()
        }
    }

    private func finish(_ fd: Int32, reset: Bool) {
        if reset {
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        }
        lock.withLock { _ = openFDs.remove(fd) }
        close(fd)
    }

    /// Serves requests on one connection until it closes or an action ends it.
    private func serve(_ fd: Int32, connection: Int) {
        var buffer: [UInt8] = []
        while let request = readRequest(fd, buffer: &buffer, connection: connection) {
            switch handler(request) {
            case .respond(let status, let headers, let body):
                var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\nContent-Length: \(body.count)\r\n"
                for field in headers { head += "\(field.name): \(field.value)\r\n" }
                head += "\r\n"
                guard write(fd, Array(head.utf8) + body) else { return finish(fd, reset: false) }
            case .closeWithoutReply:
                return finish(fd, reset: false)
            case .reset:
                return finish(fd, reset: true)
            case .partial(let declaredLength, let body):
                let head = "HTTP/1.1 200 OK\r\nContent-Length: \(declaredLength)\r\n\r\n"
                _ = write(fd, Array(head.utf8) + body)
                usleep(50_000)
                return finish(fd, reset: false)
            case .stall:
                waitForClose(fd)
                return finish(fd, reset: false)
            }
        }
        finish(fd, reset: false)
    }

    /// Reads one request; nil when the peer closed or the server stopped.
    private func readRequest(_ fd: Int32, buffer: inout [UInt8], connection: Int) -> ReceivedRequest? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headerEnd: Int?
        while true {
            if headerEnd == nil, let range = buffer.firstRange(of: separator) { headerEnd = range.upperBound }
            if let end = headerEnd {
                let head = String(decoding: buffer[..<end], as: UTF8.self)
                var lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
                let requestLine = lines.removeFirst().split(separator: " ")
                var headers: [String: String] = [:]
                for line in lines {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] =
                        line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                let length = Int(headers["content-length"] ?? "0") ?? 0
                if buffer.count >= end + length {
                    let body = Array(buffer[end..<(end + length)])
                    buffer.removeFirst(end + length)
                    return lock.withLock {
                        let request = ReceivedRequest(
                            method: requestLine.first.map(String.init) ?? "",
                            path: requestLine.count > 1 ? String(requestLine[1]) : "",
                            headers: headers, body: body, connection: connection, index: requestLog.count)
                        requestLog.append(request)
                        return request
                    }
                }
            }
            guard let chunk = readChunk(fd) else { return nil }
            buffer += chunk
        }
    }

    /// Waits for data; nil on close, error or server stop.
    private func readChunk(_ fd: Int32) -> [UInt8]? {
        while !isStopped {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, 50)
            if ready < 0 { return nil }
            if ready == 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return nil }
            return Array(chunk[..<n])
        }
        return nil
    }

    private func waitForClose(_ fd: Int32) {
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline, readChunk(fd) != nil {}
    }

    private func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    private static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 429: "Too Many Requests"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}

/// A 127.0.0.1 port bound but not listening: connecting to it is refused, and no other test can
/// take the port while it is held.
struct ClosedPort {
    let port: UInt16
    private let fd: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else {
            close(fd)
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        port = UInt16(bigEndian: address.sin_port)
        self.fd = fd
    }

    /// Closes the socket.
    func release() { close(fd) }
}
