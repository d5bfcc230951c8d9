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
        configuration.limits.idleTimeout = .seconds(15)
        return configuration
    }

    /// A client that sends the head and part of the body, then nothing: 408 once the body timeout
    /// passes, and the connection is closed (the receive timeout, 20 s, would say otherwise).
    @Test func stalledBodyIsCutOff() async throws {
        let fixture = try ServerFixture()
        let token = try fixture.token("alice")
        try await withLiveServer(fixture, configuration: SlowBodyTests.configuration(fixture)) { port in
            let connection = try RawConnection(port: port)
            connection.send(
                "POST /v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"
                    + "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"replica\":")
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
            connection.send(
                "POST /v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"
                    + "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
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
