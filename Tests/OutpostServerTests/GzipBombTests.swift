import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OutpostCore
import OutpostServer
import OutpostStore
import OutpostSync
import Testing

@Suite struct GzipBombTests {
    /// 64 MB of zeros packs into about 64 KB.
    static let bomb: [UInt8] = (try? Gzip.compress([UInt8](repeating: 0, count: 64 << 20), level: 9)) ?? []

    /// The inflater stops at the first piece past the limit: it has made at most one piece more
    /// than the limit and has not read the rest of the input.
    @Test func inflationStopsAtTheLimit() throws {
        #expect(GzipBombTests.bomb.count < 100_000)
        let inflater = try Gzip.Inflater(maxOutput: 1 << 20)
        var caught: GzipError?
        do { try inflater.feed(GzipBombTests.bomb) } catch { caught = error }
        #expect(caught?.isTooLarge == true)
        #expect(caught?.message.contains("expands to more than 1048576 bytes") == true)
        #expect(inflater.produced <= (1 << 20) + 64 * 1024)
        #expect(inflater.consumed < GzipBombTests.bomb.count / 10)
        // The one-shot form says the same.
        #expect(throws: GzipError(message: "the data expands to more than 1048576 bytes", kind: .tooLarge)) {
            try Gzip.decompress(GzipBombTests.bomb, maxOutput: 1 << 20)
        }
        // Positive control: within the limit, the same stream inflates whole, fed in any pieces.
        let text = Array(String(repeating: "outpost ", count: 50_000).utf8)
        let packed = try Gzip.compress(text)
        let pieces = try Gzip.Inflater(maxOutput: text.count)
        for start in stride(from: 0, to: packed.count, by: 7) {
            try pieces.feed(Array(packed[start..<min(packed.count, start + 7)]))
        }
        #expect(try pieces.finish() == text)
        #expect(try Gzip.decompress(packed, maxOutput: text.count) == text)
        #expect(throws: GzipError.self) { try Gzip.decompress(packed, maxOutput: text.count - 1) }
    }

    /// A bomb body gets 413 (inflation stopped at the server's limit), the server keeps serving.
    @Test func bombBodyIsRefusedWith413() async throws {
        var limits = ServerLimits()
        limits.maxDecodedBytes = 1 << 20
        let fixture = try ServerFixture(limits: limits)
        let token = try fixture.token("alice")
        try await fixture.test { client in
            let r = try await postSync(
                client, token: token, body: GzipBombTests.bomb,
                headers: [.contentEncoding: "gzip", .contentType: "application/json"])
            #expect(r.status == .contentTooLarge)
            #expect(errorCode(r) == "payload_too_large")
            #expect(errorMessage(r).contains("decompresses to more than 1048576 bytes"))
            let health = try await client.executeRequest(uri: "/healthz", method: .get, headers: [:], body: nil)
            #expect(health.status == .ok)
        }
        #expect(try fixture.store.lastSeq() == 0)
    }

    /// A bundle that is a bomb is refused with a clear error: zeros never end their first line,
    /// and the line is refused at its limit (16 MB), before the bomb has inflated to the 32 MB
    /// the size limit would stop at; a bundle past the size limit is refused at the limit.
    @Test func bombBundleIsRefused() throws {
        #expect(throws: BundleError("the bundle has a line longer than \(BundleFile.maxLineBytes) bytes; refused")) {
            try BundleFile.decode(GzipBombTests.bomb, maxBytes: 2 * BundleFile.maxLineBytes)
        }
        let lines = [UInt8](repeating: 0x0A, count: 8 << 20)
        let manyLines = try Gzip.compress(lines, level: 9)
        #expect(
            throws: BundleError("the bundle expands to more than 1048576 bytes; refused (a damaged file or a compression bomb)")
        ) {
            try BundleFile.decode(manyLines, maxBytes: 1 << 20)
        }
        // A header that counts 2 changes, then endless copies of a change line: refused at the third.
        let fixture = try ServerFixture()
        let store = try fixture.replica("r")
        let change = try store.create(fields: ["title": "x"])
        var body = JSONValue.object([
            "format": "outpost-bundle", "version": 1, "kind": "changes", "replica": .string(store.replica.hex),
            "reporter": "r", "created_at": "2024-01-01T00:00:00Z", "count": 2,
        ]).serializedBytes()
        body.append(0x0A)
        let line = change.json.serializedBytes() + [0x0A]
        for _ in 0..<100_000 { body += line }
        #expect(throws: BundleError("the bundle's line count does not match its header")) {
            try BundleFile.decode(try Gzip.compress(body, level: 9))
        }
        // Positive control: a real bundle still reads.
        let (file, count) = try store.bundle()
        guard case .changes(let changes) = try BundleFile.decode(file) else {
            Issue.record("not a bundle of changes")
            return
        }
        #expect(changes.count == count && count == 1)
        // Tampered: still reported as altered, not as a bad line.
        var plain = try Gzip.decompress(file, maxOutput: 1 << 20)
        plain[plain.index(after: plain.firstIndex(of: 0x0A)!) + 2] ^= 1
        #expect(throws: BundleError("the bundle was altered or damaged (checksum mismatch)")) {
            try BundleFile.decode(try Gzip.compress(plain))
        }
    }
}
