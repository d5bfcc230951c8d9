import Foundation
import OutpostSync
import Testing

@testable import OutpostCurl

/// A client holding at most `limit` response bytes, with no retries; the local server is never proxied.
private func limitedClient(_ limit: Int) throws -> CurlHTTPClient {
    try CurlHTTPClient(
        options: CurlOptions(
            connectTimeout: .seconds(2), totalTimeout: .seconds(30), noProxy: "127.0.0.1,localhost",
            maxResponseBytes: limit),
        retryPolicy: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(10), maxDelay: .milliseconds(50)))
}

/// The TransportError `body` throws (fails the test when it returns).
private func failure(_ body: () async throws(TransportError) -> HTTPResponse) async -> TransportError? {
    do {
        let response = try await body()
        Issue.record("expected an error, got HTTP \(response.status) with \(response.body.count) bytes")
        return nil
    } catch {
        return error
    }
}

/// `count` zero bytes, gzipped: about a thousandth of the size they inflate to.
private func gzipBomb(inflatingTo count: Int) throws -> [UInt8] {
    try Gzip.compress([UInt8](repeating: 0, count: count), level: 9)
}

@Suite("The client caps the response it holds", .timeLimit(.minutes(2)))
struct ResponseLimitTests {
    @Test func aBodyAtTheLimitIsKept() async throws {
        let body = [UInt8](repeating: UInt8(ascii: "a"), count: 64 << 10)
        let server = try TestHTTPServer { _ in .respond(status: 200, body: body) }
        defer { server.stop() }
        let response = try await limitedClient(64 << 10).send(HTTPRequest(url: server.baseURL + "/exact"))
        #expect(response.body == body)
    }

    @Test func aBodyPastTheLimitIsRefusedNamingTheLimit() async throws {
        let server = try TestHTTPServer { _ in .respond(status: 200, body: [UInt8](repeating: 1, count: (64 << 10) + 1)) }
        defer { server.stop() }
        let client = try limitedClient(64 << 10)
        let error = try #require(
            await failure { () throws(TransportError) in try await client.send(HTTPRequest(url: server.baseURL + "/big")) })
        #expect(error.kind == .responseTooLarge(limit: 64 << 10))
        #expect(error.message.contains("larger than 64 KiB"), "\(error.message)")
        #expect(error.attempts == 1)  // a server that sends too much is not asked again
        #expect(server.requests.count == 1)
    }

    @Test func aGzipBombStopsAtTheLimitOfDecodedBytes() async throws {
        // 256 MiB of zeros on the wire as about 250 KiB: the limit counts what libcurl decodes.
        let bomb = try gzipBomb(inflatingTo: 256 << 20)
        #expect(bomb.count < 1 << 20)
        let server = try TestHTTPServer { _ in
            .respond(status: 200, headers: [HTTPField("Content-Encoding", "gzip")], body: bomb)
        }
        defer { server.stop() }
        let client = try limitedClient(1 << 20)
        let error = try #require(
            await failure { () throws(TransportError) in try await client.send(HTTPRequest(url: server.baseURL + "/bomb")) })
        #expect(error.kind == .responseTooLarge(limit: 1 << 20))
        #expect(error.message.contains("larger than 1 MiB"))
        #expect(error.message.contains("after decompression"))
    }

    @Test func aGzipBodyUnderTheLimitIsDecoded() async throws {
        let text = [UInt8](repeating: UInt8(ascii: "z"), count: 900 << 10)
        let packed = try Gzip.compress(text)
        let server = try TestHTTPServer { _ in
            .respond(status: 200, headers: [HTTPField("Content-Encoding", "gzip")], body: packed)
        }
        defer { server.stop() }
        let response = try await limitedClient(1 << 20).send(HTTPRequest(url: server.baseURL + "/fine"))
        #expect(response.body == text)
    }

    @Test func anErrorBodyIsCappedToo() async throws {
        let server = try TestHTTPServer { _ in .respond(status: 404, body: [UInt8](repeating: 2, count: 200 << 10)) }
        defer { server.stop() }
        let client = try limitedClient(64 << 10)
        let error = try #require(
            await failure { () throws(TransportError) in try await client.send(HTTPRequest(url: server.baseURL + "/e")) })
        #expect(error.kind == .responseTooLarge(limit: 64 << 10))
    }

    @Test func theSyncLinkRefusesABombAtItsDefaultLimit() async throws {
        // The sync link's own limit, with no option lowering it: 64 MiB of decoded answer.
        #expect(CurlServerLink.maxResponseBytes == 64 << 20)
        let bomb = try gzipBomb(inflatingTo: 128 << 20)
        let server = try TestHTTPServer { _ in
            .respond(
                status: 200, headers: [HTTPField("Content-Encoding", "gzip"), HTTPField("Content-Type", "application/json")],
                body: bomb)
        }
        defer { server.stop() }
        let link = try CurlServerLink(
            serverURL: server.baseURL, token: "t", options: CurlOptions(noProxy: "127.0.0.1"), retryPolicy: .none)
        #expect(link.responseLimit == 64 << 20)
        let request = ServerSyncRequest(replica: .random(), reporter: "r", changes: [], pullAfter: 0)
        let error = try #require(await linkFailure { try await link.exchange(request) })
        #expect(error.kind == .invalidResponse)
        #expect(error.message.contains("larger than 64 MiB"), "\(error.message)")
    }

    @Test func theSyncLinkRefusesAnUnlabelledGzipBombToo() async throws {
        // Gzip bytes without Content-Encoding: libcurl passes them on and the link inflates them,
        // under the same limit.
        let bomb = try gzipBomb(inflatingTo: 8 << 20)
        let server = try TestHTTPServer { _ in .respond(status: 200, body: bomb) }
        defer { server.stop() }
        let link = try CurlServerLink(
            serverURL: server.baseURL, token: "t", options: CurlOptions(noProxy: "127.0.0.1", maxResponseBytes: 1 << 20),
            retryPolicy: .none)
        #expect(link.responseLimit == 1 << 20)
        let request = ServerSyncRequest(replica: .random(), reporter: "r", changes: [], pullAfter: 0)
        let error = try #require(await linkFailure { try await link.exchange(request) })
        #expect(error.kind == .invalidResponse)
        #expect(error.message.contains("larger than 1 MiB"), "\(error.message)")
    }

    @Test func optionsCannotRaiseTheSyncLinksLimit() throws {
        let link = try CurlServerLink(
            serverURL: "http://127.0.0.1:1", token: "t", options: CurlOptions(maxResponseBytes: 1 << 40))
        #expect(link.responseLimit == CurlServerLink.maxResponseBytes)
    }

    @Test func byteCountsReadAsUnits() {
        #expect(ByteCountText.text(64 << 20) == "64 MiB")
        #expect(ByteCountText.text(512 << 10) == "512 KiB")
        #expect(ByteCountText.text(1000) == "1000 bytes")
        #expect(ByteCountText.text(1) == "1 byte")
    }
}

/// The ServerLinkError `body` throws (fails the test when it returns).
private func linkFailure(_ body: () async throws -> ServerSyncResponse) async -> ServerLinkError? {
    do {
        _ = try await body()
        Issue.record("expected an error")
        return nil
    } catch let error as ServerLinkError {
        return error
    } catch {
        Issue.record("expected a ServerLinkError, got \(error)")
        return nil
    }
}
