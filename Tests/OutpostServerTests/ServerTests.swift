import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import OutpostCore
import OutpostServer
import OutpostSync
import ServiceLifecycle
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct ServerTests {
    /// The package folder (Tests/OutpostServerTests/ServerTests.swift → ../..).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Paths and their methods as written in `Schema/openapi.yaml` (a small reader for its `paths:` block).
    static func documentedRoutes() throws -> Set<String> {
        let text = try String(contentsOf: packageRoot.appendingPathComponent("Schema/openapi.yaml"), encoding: .utf8)
        var routes = Set<String>()
        var inPaths = false
        var current: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let indent = line.prefix { $0 == " " }.count
            let content = line.trimmingCharacters(in: .whitespaces)
            if content.isEmpty || content.hasPrefix("#") { continue }
            #expect(!line.contains("\t"), "tabs are not allowed in YAML indentation")
            if indent == 0 {
                inPaths = content == "paths:"
                continue
            }
            guard inPaths else { continue }
            if indent == 2, content.hasPrefix("/"), content.hasSuffix(":") {
                current = String(content.dropLast())
            } else if indent == 4, let path = current, content.hasSuffix(":"),
                ["get:", "post:", "put:", "patch:", "delete:", "head:", "options:"].contains(content)
            {
                routes.insert("\(content.dropLast().uppercased()) \(path)")
            }
        }
        return routes
    }

    @Test func openAPIListsExactlyTheRouterRoutes() throws {
        let text = try String(contentsOf: ServerTests.packageRoot.appendingPathComponent("Schema/openapi.yaml"), encoding: .utf8)
        #expect(text.hasPrefix("openapi: 3.1"))
        // Balanced flow collections, no tabs: a cheap well-formedness check without a YAML library.
        for (open, close) in [("{", "}"), ("[", "]")] {
            #expect(text.filter { String($0) == open }.count == text.filter { String($0) == close }.count)
        }
        let documented = try ServerTests.documentedRoutes()
        let served = Set(outpostRoutes.map { "\($0.method.rawValue) \($0.path)" })
        #expect(documented == served)
        // Every $ref points at a defined component.
        for ref in text.components(separatedBy: "$ref: \"#/").dropFirst() {
            let target = ref.prefix { $0 != "\"" }.split(separator: "/")
            #expect(target.count == 3)
            if target.count == 3 {
                #expect(text.contains("\n    \(target[2]):"), "missing component \(target.joined(separator: "/"))")
            }
        }
    }

    @Test func serverTimeHeaderOnEveryRoute() async throws {
        let fixture = try ServerFixture()
        let admin = try fixture.token("root", .admin)
        try await fixture.test { client in
            for (uri, method) in [
                ("/healthz", HTTPRequest.Method.get), ("/v1/incidents", .get), ("/v1/incidents/x", .get), ("/v1/sync", .post),
                ("/nope", .get), ("/healthz", .post),
            ] {
                let r = try await client.executeRequest(uri: uri, method: method, headers: bearer(admin), body: nil)
                #expect(r.headers[.outpostServerTime].flatMap { Int64($0) } != nil, "\(method) \(uri)")
                #expect(r.headers[.date]?.hasSuffix("GMT") == true, "\(method) \(uri)")
            }
        }
    }

    /// Starts the real server on 127.0.0.1 port 0, hits /healthz over a socket, shuts it down gracefully.
    @Test func realServerAnswersHealthAndStops() async throws {
        let fixture = try ServerFixture()
        var configuration = fixture.configuration
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        configuration.onListening = { _, port in continuation.yield(port) }
        var logger = Logger(label: "live-test")
        logger.logLevel = .warning
        let app = try buildApplication(configuration: configuration, backend: fixture.backend, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            #expect(port > 0)
            let response = try ServerTests.httpGet(port: port, path: "/healthz")
            #expect(response.hasPrefix("HTTP/1.1 200"))
            #expect(response.lowercased().contains("x-outpost-server-time: "))
            #expect(response.contains("{\"status\":\"ok\"}"))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// A minimal HTTP/1.1 GET over a blocking socket.
    static func httpGet(port: Int, path: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LinkError(status: 0, body: "socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw LinkError(status: 0, body: "connect failed") }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Collects log messages (for checking what the request log says).
final class CollectingLogHandler: LogHandler, @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        lock.withLock { lines.append("\(event.message) \(event.metadata ?? [:])") }
    }

    var messages: [String] { lock.withLock { lines } }
}

@Suite struct RequestLogTests {
    @Test func oneLinePerRequestWithoutContentsOrTokens() async throws {
        let fixture = try ServerFixture()
        let handler = CollectingLogHandler()
        let logger = Logger(label: "log-test") { _ in handler }
        let analyst = try fixture.token("ana", .analyst)
        let alice = try fixture.replica("alice")
        let token = try fixture.token("alice", for: alice)
        let id = try alice.create(id: "secret-incident-id", fields: ["title": "Confidential witness name"]).record.id
        let app = try buildApplication(configuration: fixture.configuration, backend: fixture.backend, logger: logger)
        try await app.test(.router) { client in
            _ = try await ServerSyncClient(store: alice, link: RouterLink(client: client, token: token)).run()
            _ = try await client.executeRequest(
                uri: "/v1/incidents?q=witness", method: .get, headers: bearer(analyst), body: nil)
            _ = try await client.executeRequest(uri: "/v1/incidents/\(id)", method: .get, headers: bearer(analyst), body: nil)
        }
        let lines = handler.messages.filter { $0.contains(" /") }
        // The sync is two requests: the first (roster, summary, pull) pushes nothing.
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("POST /v1/sync 200 ") && lines[1].hasPrefix("POST /v1/sync 200 "))
        #expect(lines[2].hasPrefix("GET /v1/incidents 200 "))
        #expect(lines[3].hasPrefix("GET /v1/incidents/{id} 200 "))
        for line in handler.messages {
            for secret in [token, analyst, "witness", "Confidential", "secret-incident-id"] {
                #expect(!line.contains(secret), "\(line)")
            }
        }
    }
}
