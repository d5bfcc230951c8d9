import Foundation
import OutpostServer
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct SlowBodyTests {
    static func configuration(_ fixture: ServerFixture) -> ServerConfiguration {
        var configuration = fixture.configuration
        configuration.limits.bodyTimeout = .seconds(1)
        // Far beyond the body timeout and the tests' receive timeouts: a close seen here comes from
        // the 408, never from the idle timer (which fired in a loaded CI run, while the request
        // still waited for a thread, and closed the connection with no answer at all).
        configuration.limits.idleTimeout = .seconds(120)
        return configuration
    }

    /// The head of a sync request whose body is `length` bytes.
    static func syncHead(token: String, length: Int, close: Bool = false) -> String {
        "POST /v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(length)\r\n" + (close ? "Connection: close\r\n" : "")
            + "\r\n"
    }

    /// Positive control: under the same one-second timeout, a body sent whole is answered (200),
    /// so the 408s below come from slowness, not from the timeout refusing everything.
    @Test func promptBodyIsAnswered() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.replica("alice")
        let token = try fixture.token("alice", for: alice)
        let body = #"{"replica":"\#(alice.replica.hex)","changes":[]}"#
        try await withLiveServer(fixture, configuration: SlowBodyTests.configuration(fixture)) { port in
            let connection = try RawConnection(port: port)
            connection.send(SlowBodyTests.syncHead(token: token, length: body.utf8.count, close: true) + body)
            let (response, _) = try await connection.readToEnd()
            #expect(statusCode(response) == 200, "\(response)")
        }
    }

    /// A client that sends the head and part of the body, then nothing: 408 once the body timeout
    /// passes, and the connection is closed (the receive timeout, 90 s, would say otherwise).
    @Test func stalledBodyIsCutOff() async throws {
        let fixture = try ServerFixture()
        let token = try fixture.token("alice")
        try await withLiveServer(fixture, configuration: SlowBodyTests.configuration(fixture)) { port in
            let connection = try RawConnection(port: port, receiveTimeoutSeconds: 90)
            connection.send(SlowBodyTests.syncHead(token: token, length: 1000) + "{\"replica\":")
            let (response, closed) = try await connection.readToEnd()
            #expect(statusCode(response) == 408, "\(response)")
            #expect(closed)
            // The server still serves.
            #expect(statusCode(try await RawConnection.request(port: port, path: "/healthz")) == 200)
        }
        #expect(try fixture.store.lastSeq() == 0)
    }

    /// A body trickled in a byte at a time (never idle for the timeout) is answered 408 once it
    /// has taken longer than the timeout in all.
    @Test func trickledBodyGets408() async throws {
        let fixture = try ServerFixture()
        let token = try fixture.token("alice")
        try await withLiveServer(fixture, configuration: SlowBodyTests.configuration(fixture)) { port in
            let connection = try RawConnection(port: port)
            connection.send(SlowBodyTests.syncHead(token: token, length: 1000))
            for _ in 0..<12 {
                connection.send("{")
                try await Task.sleep(for: .milliseconds(200))
            }
            let (response, _) = try await connection.readToEnd()
            #expect(statusCode(response) == 408, "\(response)")
            #expect(response.contains("\"request_timeout\""))
        }
        #expect(try fixture.store.lastSeq() == 0)
    }
}
