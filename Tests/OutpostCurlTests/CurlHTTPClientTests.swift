import Foundation
import Testing

@testable import OutpostCurl

// No test here asserts how fast anything is: the whole test run shares two cores, so wall-clock
// upper bounds would fail on a busy machine. A stalled server never answers and a Retry-After is
// an hour long, so the suite's time limit is what proves the client gave up; the assertions check
// what it gave up with (kind, attempts), and lower bounds check that it did wait when it should.

/// Short timeouts and tiny backoff so the suite stays fast; the local server is never proxied.
private func makeClient(
    maxAttempts: Int = 3, totalTimeout: Duration? = .seconds(5), lowSpeedTime: Duration = .seconds(5),
    maxRetryAfter: Duration = .seconds(5)
) throws -> CurlHTTPClient {
    try CurlHTTPClient(
        options: CurlOptions(
            connectTimeout: .seconds(2), totalTimeout: totalTimeout, lowSpeedLimit: 1,
            lowSpeedTime: lowSpeedTime, noProxy: "127.0.0.1,localhost"),
        retryPolicy: RetryPolicy(
            maxAttempts: maxAttempts, baseDelay: .milliseconds(10), maxDelay: .milliseconds(50),
            jitter: 0.5, maxRetryAfter: maxRetryAfter))
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Runs `body` and returns the TransportError it throws (fails the test if none).
private func transportError(_ body: () async throws(TransportError) -> HTTPResponse) async -> TransportError? {
    do {
        let response = try await body()
        Issue.record("expected an error, got HTTP \(response.status)")
        return nil
    } catch {
        return error
    }
}

/// A mutable value shared with @Sendable callbacks.
private final class Box<Value: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `value` is only accessed under `lock`.
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func update(_ change: (inout Value) -> Void) { lock.withLock { change(&stored) } }
}

@Suite("CurlHTTPClient against a local server", .timeLimit(.minutes(2)))
struct CurlHTTPClientTests {
    @Test func getReturnsBodyAndLowerCasedHeaders() async throws {
        let server = try TestHTTPServer { _ in
            .respond(status: 200, headers: [HTTPField("X-Outpost-Test", "yes")], body: bytes("hello"))
        }
        defer { server.stop() }
        let response = try await makeClient().send(HTTPRequest(url: server.baseURL + "/hello?q=1"))
        #expect(response.status == 200)
        #expect(response.text == "hello")
        #expect(response.attempts == 1)
        #expect(response.headers.fields.contains(HTTPHeader(name: "x-outpost-test", value: "yes")))
        #expect(response.headers["X-OUTPOST-TEST"] == "yes")
        let request = try #require(server.requests.first)
        #expect(request.method == "GET")
        #expect(request.path == "/hello?q=1")
        #expect(request.headers["accept-encoding"]?.contains("gzip") == true)
        #expect(request.headers["user-agent"] == "Outpost (libcurl)")
    }

    @Test func postSendsBodyAndHeadersAsGiven() async throws {
        let server = try TestHTTPServer { request in .respond(status: 201, body: request.body) }
        defer { server.stop() }
        let client = try makeClient()
        let payload = Array((0..<5000).map { UInt8($0 % 251) })
        let response = try await client.send(
            HTTPRequest(
                method: "POST", url: server.baseURL + "/changes",
                headers: ["Content-Encoding": "gzip", "X-Empty": ""], body: payload))
        #expect(response.status == 201)
        #expect(response.body == payload)
        let request = try #require(server.requests.first)
        #expect(request.headers["content-encoding"] == "gzip")
        #expect(request.headers["content-type"] == "application/octet-stream")
        #expect(request.headers["x-empty"] == "")
        #expect(request.headers["expect"] == nil)

        _ = try await client.send(
            HTTPRequest(
                method: "PUT", url: server.baseURL + "/x", headers: ["Content-Type": "application/json"],
                body: bytes("{}")))
        _ = try await client.send(HTTPRequest(method: "DELETE", url: server.baseURL + "/x"))
        _ = try await client.send(HTTPRequest(method: "POST", url: server.baseURL + "/empty"))
        let later = server.requests.dropFirst()
        #expect(later.map(\.method) == ["PUT", "DELETE", "POST"])
        #expect(later.first?.headers["content-type"] == "application/json")
        #expect(later.first?.body == bytes("{}"))
        #expect(later.last?.headers["content-length"] == "0")
        #expect(later.last?.headers["content-type"] == nil)
    }

    @Test func retries503ThenSucceeds() async throws {
        let server = try TestHTTPServer { request in
            request.index < 2 ? .respond(status: 503, body: bytes("busy")) : .respond(status: 200, body: bytes("ok"))
        }
        defer { server.stop() }
        let response = try await makeClient(maxAttempts: 4).send(HTTPRequest(url: server.baseURL + "/"))
        #expect(response.status == 200)
        #expect(response.attempts == 3)
        #expect(server.requests.count == 3)
    }

    @Test func givesUpAfterMaxAttemptsOf5xx() async throws {
        let server = try TestHTTPServer { _ in .respond(status: 503, body: bytes("maintenance")) }
        defer { server.stop() }
        let client = try makeClient(maxAttempts: 3)
        let error = try #require(
            await transportError { () throws(TransportError) in
                try await client.send(HTTPRequest(url: server.baseURL + "/"))
            })
        #expect(error.kind == .httpStatus(503))
        #expect(error.attempts == 3)
        #expect(error.lastStatus == 503)
        #expect(error.responseBody == bytes("maintenance"))
        #expect(error.description.contains("HTTP 503"))
        #expect(error.description.contains("3 attempts"))
        #expect(server.requests.count == 3)
    }

    @Test func honoursRetryAfterOn429() async throws {
        let server = try TestHTTPServer { request in
            request.index == 0
                ? .respond(status: 429, headers: [HTTPField("Retry-After", "1")])
                : .respond(status: 200, body: bytes("ok"))
        }
        defer { server.stop() }
        let clock = ContinuousClock()
        let start = clock.now
        let response = try await makeClient().send(HTTPRequest(url: server.baseURL + "/"))
        let elapsed = clock.now - start
        #expect(response.attempts == 2)
        #expect(elapsed >= .milliseconds(950))
    }

    @Test func capsLongRetryAfter() async throws {
        let server = try TestHTTPServer { request in
            request.index == 0
                ? .respond(status: 429, headers: [HTTPField("Retry-After", "3600")])
                : .respond(status: 200)
        }
        defer { server.stop() }
        let response = try await makeClient(maxRetryAfter: .milliseconds(100))
            .send(HTTPRequest(url: server.baseURL + "/"))
        #expect(response.attempts == 2)
    }

    @Test(arguments: [401, 403, 404])
    func clientErrorsAreNotRetried(status: Int) async throws {
        let server = try TestHTTPServer { _ in .respond(status: status, body: bytes("{\"error\":\"nope\"}")) }
        defer { server.stop() }
        let client = try makeClient(maxAttempts: 5)
        let error = try #require(
            await transportError { () throws(TransportError) in
                try await client.send(HTTPRequest(url: server.baseURL + "/secret"))
            })
        #expect(error.kind == .httpStatus(status))
        #expect(error.attempts == 1)
        #expect(error.lastStatus == status)
        #expect(error.response?.status == status)
        #expect(error.responseBody == bytes("{\"error\":\"nope\"}"))
        #expect(error.message.contains("HTTP \(status) from GET \(server.baseURL)/secret"))
        #expect(server.requests.count == 1)
    }

    @Test func retriesConnectionDroppedRightAfterAccept() async throws {
        let server = try TestHTTPServer(dropFirstConnections: 1) { _ in .respond(status: 200, body: bytes("ok")) }
        defer { server.stop() }
        let response = try await makeClient().send(HTTPRequest(url: server.baseURL + "/"))
        #expect(response.text == "ok")
        #expect(response.attempts == 2)
        #expect(server.connectionCount == 2)
    }

    @Test func retriesResetAfterRequest() async throws {
        let server = try TestHTTPServer { request in
            request.index == 0 ? .reset : .respond(status: 200, body: bytes("ok"))
        }
        defer { server.stop() }
        let response = try await makeClient().send(HTTPRequest(url: server.baseURL + "/"))
        #expect(response.text == "ok")
        #expect(response.attempts == 2)
    }

    @Test func connectionLostMidResponseIsReportedAfterRetries() async throws {
        let server = try TestHTTPServer { _ in .partial(declaredLength: 1000, body: bytes("only part")) }
        defer { server.stop() }
        let client = try makeClient(maxAttempts: 2)
        let error = try #require(
            await transportError { () throws(TransportError) in
                try await client.send(HTTPRequest(url: server.baseURL + "/big"))
            })
        #expect(error.kind == .connectionLost)
        #expect(error.attempts == 2)
        #expect(error.curlCode != nil)
        #expect(server.requests.count == 2)
    }

    @Test func totalTimeoutFiresOnStalledServer() async throws {
        let server = try TestHTTPServer { _ in .stall }
        defer { server.stop() }
        let client = try makeClient(maxAttempts: 2, totalTimeout: .seconds(1))
        let error = try #require(
            await transportError { () throws(TransportError) in
                try await client.send(HTTPRequest(url: server.baseURL + "/slow"))
            })
        #expect(error.kind == .timedOut)
        #expect(error.attempts == 2)
    }

    @Test func lowSpeedLimitFiresOnStalledServer() async throws {
        let server = try TestHTTPServer { _ in .stall }
        defer { server.stop() }
        let client = try makeClient(maxAttempts: 1, totalTimeout: nil, lowSpeedTime: .seconds(1))
        let error = try #require(
            await transportError { () throws(TransportError) in
                try await client.send(HTTPRequest(url: server.baseURL + "/slow"))
            })
        #expect(error.kind == .timedOut)
        #expect(error.attempts == 1)
        #expect(error.message.lowercased().contains("too slow"))
    }

    @Test func decodesGzipResponse() async throws {
        let server = try TestHTTPServer { _ in
            .respond(status: 200, headers: [HTTPField("Content-Encoding", "gzip")], body: gzippedReport)
        }
        defer { server.stop() }
        let response = try await makeClient().send(HTTPRequest(url: server.baseURL + "/report"))
        #expect(response.text == String(repeating: "outpost incident report ", count: 100))
        #expect(response.headers["content-encoding"] == "gzip")
    }

    @Test func reusesOneConnection() async throws {
        let server = try TestHTTPServer { request in .respond(status: 200, body: bytes("n\(request.index)")) }
        defer { server.stop() }
        let client = try makeClient()
        let first = try await client.send(HTTPRequest(url: server.baseURL + "/1"))
        let second = try await client.send(HTTPRequest(method: "POST", url: server.baseURL + "/2", body: bytes("x")))
        #expect(first.text == "n0")
        #expect(second.text == "n1")
        #expect(server.connectionCount == 1)
        #expect(server.requests.map(\.connection) == [0, 0])
    }

    @Test func concurrentSendsShareTheHandleSafely() async throws {
        let server = try TestHTTPServer { request in .respond(status: 200, body: bytes(request.path)) }
        defer { server.stop() }
        let client = try makeClient()
        let texts = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<8 {
                group.addTask { try await client.send(HTTPRequest(url: server.baseURL + "/\(i)")).text }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(texts == Set((0..<8).map { "/\($0)" }))
        #expect(server.connectionCount == 1)
    }

    @Test func connectionRefusedIsRetriedThenUnreachable() async throws {
        let closed = try ClosedPort()
        defer { closed.release() }
        let port = closed.port
        let client = try makeClient(maxAttempts: 3)
        let error = try #require(
            await transportError { () throws(TransportError) in
                try await client.send(HTTPRequest(url: "http://127.0.0.1:\(port)/"))
            })
        #expect(error.kind == .unreachable)
        #expect(error.attempts == 3)
        #expect(error.lastStatus == nil)
        #expect(error.message.contains("127.0.0.1"))
        #expect(error.description.contains("3 attempts"))
    }

    @Test func invalidURLsAreNotRetried() async throws {
        let client = try makeClient(maxAttempts: 3)
        for url in ["ftp://127.0.0.1/file", "http://exa mple.com:99999999/"] {
            let error = try #require(
                await transportError { () throws(TransportError) in
                    try await client.send(HTTPRequest(url: url))
                })
            #expect(error.kind == .invalidURL, "\(url): \(error)")
            #expect(error.attempts == 1)
        }
        let error = try #require(
            await transportError { () throws(TransportError) in
                try await client.send(HTTPRequest(url: "http://127.0.0.1/", headers: ["X-Bad": "a\r\nInjected: 1"]))
            })
        #expect(error.kind == .invalidRequest)
    }

    @Test func cancellationAbortsAStalledTransfer() async throws {
        let server = try TestHTTPServer { _ in .stall }
        defer { server.stop() }
        let client = try makeClient(totalTimeout: .seconds(10), lowSpeedTime: .seconds(10))
        let task = Task {
            try await client.send(HTTPRequest(url: server.baseURL + "/slow"))
        }
        try await Task.sleep(for: .milliseconds(200))
        task.cancel()
        let error: TransportError
        do {
            _ = try await task.value
            Issue.record("expected cancellation")
            return
        } catch let thrown as TransportError {
            error = thrown
        }
        #expect(error.kind == .cancelled)
        #expect(error.attempts == 1)
    }

    @Test func reportsUploadProgress() async throws {
        let server = try TestHTTPServer { request in .respond(status: 200, body: bytes("\(request.body.count)")) }
        defer { server.stop() }
        let sent = Box<Int64>(0)
        let payload = [UInt8](repeating: 7, count: 200_000)
        let response = try await makeClient().send(
            HTTPRequest(method: "POST", url: server.baseURL + "/upload", body: payload),
            progress: { progress in sent.update { $0 = max($0, progress.bytesSent) } })
        #expect(response.text == "200000")
        #expect(sent.value == 200_000)
    }
}

@Suite("RetryPolicy")
struct RetryPolicyTests {
    /// Deterministic random source (SplitMix64).
    struct SeededRandom: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func backoffDoublesUpToTheCapWithJitter() {
        let policy = RetryPolicy(baseDelay: .milliseconds(100), maxDelay: .seconds(1), jitter: 0.25)
        var rng = SeededRandom(state: 42)
        let expected: [Duration] = [
            .milliseconds(100), .milliseconds(200), .milliseconds(400),
            .milliseconds(800), .seconds(1), .seconds(1),
        ]
        for (index, ceiling) in expected.enumerated() {
            let delay = policy.delay(afterAttempt: index + 1, retryAfter: nil, using: &rng)
            #expect(delay <= ceiling)
            #expect(delay >= ceiling * 0.75)
        }
        let noJitter = RetryPolicy(baseDelay: .milliseconds(100), jitter: 0)
        #expect(noJitter.delay(afterAttempt: 3) == .milliseconds(400))
        #expect(noJitter.delay(afterAttempt: 1000) == .seconds(30))
    }

    @Test func retryAfterReplacesBackoffAndIsCapped() {
        let policy = RetryPolicy(maxRetryAfter: .seconds(10))
        #expect(policy.delay(afterAttempt: 1, retryAfter: .seconds(3)) == .seconds(3))
        #expect(policy.delay(afterAttempt: 1, retryAfter: .seconds(3600)) == .seconds(10))
    }

    @Test func parsesRetryAfterSecondsAndDates() throws {
        #expect(RetryPolicy.parseRetryAfter("120") == .seconds(120))
        #expect(RetryPolicy.parseRetryAfter(" 0 ") == .zero)
        #expect(RetryPolicy.parseRetryAfter("-1") == nil)
        #expect(RetryPolicy.parseRetryAfter("soon") == nil)
        let now = try #require(RetryPolicy.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT"))
        #expect(now.timeIntervalSince1970 == 784_111_777)
        #expect(RetryPolicy.parseRetryAfter("Sun, 06 Nov 1994 08:50:07 GMT", now: now) == .seconds(30))
        #expect(RetryPolicy.parseRetryAfter("Sunday, 06-Nov-94 08:50:07 GMT", now: now) == .seconds(30))
        #expect(RetryPolicy.parseRetryAfter("Sun Nov  6 08:50:07 1994", now: now) == .seconds(30))
        #expect(RetryPolicy.parseRetryAfter("Sun, 06 Nov 1994 08:00:00 GMT", now: now) == .zero)
    }

    @Test func retriesOnlyTransientFailures() {
        let policy = RetryPolicy.standard
        for kind in [
            TransportError.Kind.unreachable, .connectionLost, .timedOut, .httpStatus(429),
            .httpStatus(500), .httpStatus(503),
        ] {
            #expect(policy.isRetryable(kind), "\(kind)")
        }
        for kind in [
            TransportError.Kind.httpStatus(400), .httpStatus(401), .httpStatus(403), .httpStatus(404),
            .httpStatus(409), .tls, .invalidURL, .invalidRequest, .protocolError, .cancelled, .other,
        ] {
            #expect(!policy.isRetryable(kind), "\(kind)")
        }
        #expect(RetryPolicy.none.maxAttempts == 1)
    }
}

/// `gzip.compress(b"outpost incident report " * 100, mtime=0)`
private let gzippedReport: [UInt8] = [
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xed, 0xc8, 0xb1, 0x11, 0x00, 0x20,
    0x08, 0x04, 0xc1, 0x56, 0xe8, 0x4d, 0x09, 0x48, 0x80, 0xc1, 0xb7, 0x7f, 0x7b, 0x30, 0xbe, 0x0d,
    0xb7, 0xae, 0xba, 0x8e, 0x2c, 0x72, 0xc5, 0xf6, 0x94, 0x8d, 0x77, 0x8d, 0xac, 0x78, 0x9e, 0xe7,
    0x79, 0x9e, 0xe7, 0xf9, 0xaf, 0x7f, 0x9c, 0xa0, 0xf1, 0xc3, 0x60, 0x09, 0x00, 0x00,
]
