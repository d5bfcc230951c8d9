import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OutpostCore
import OutpostServer
import OutpostStore
import OutpostSync
import Testing

@Suite struct BadRequestTests {
    /// Every refused request gets a 4xx JSON error naming the problem, stores nothing and leaves the server serving.
    @Test func badRequestsAreRefusedAndStoreNothing() async throws {
        var limits = ServerLimits()
        limits.maxRequestBytes = 64 * 1024
        limits.maxDecodedBytes = 256 * 1024
        limits.maxChanges = 10
        let fixture = try ServerFixture(limits: limits)
        let alice = try fixture.replica("alice")
        let token = try fixture.token("alice", for: alice)
        let good = try alice.create(fields: ["title": "Valid"])
        @Sendable func request(_ changes: [JSONValue]) -> [UInt8] {
            JSONValue.object([
                "replica": .string(alice.replica.hex), "changes": .array(changes), "pull": ["after": 0],
            ]).serializedBytes()
        }
        var badKilled = good.json
        if case .object(var o) = badKilled {
            o["writes"] = ["title": "Valid", "killed": -1]
            badKilled = .object(o)
        }
        var wrongType = good.json
        if case .object(var o) = wrongType {
            o["counter"] = "one"
            wrongType = .object(o)
        }
        let manyChanges = try (0..<11).map { i in try alice.create(fields: ["title": .string("N\(i)")]).json }
        let big = Array(String(repeating: "x", count: 70 * 1024).utf8)
        let bomb = try Gzip.compress(Array(repeating: UInt8(ascii: " "), count: 300 * 1024))

        struct Case {
            var name: String
            var body: [UInt8]
            var headers: HTTPFields = [:]
            var status: HTTPResponse.Status
            var code: String
            var mentions: String
        }
        let cases: [Case] = [
            Case(
                name: "malformed JSON", body: Array("{\"replica\": ".utf8), status: .badRequest, code: "malformed_json",
                mentions: "JSON"),
            Case(name: "empty body", body: [], status: .badRequest, code: "malformed_json", mentions: "empty"),
            Case(
                name: "not an object", body: Array("[1,2]".utf8), status: .badRequest, code: "invalid_request", mentions: "object"
            ),
            Case(
                name: "replica wrong type", body: Array("{\"replica\": 5}".utf8), status: .badRequest, code: "invalid_request",
                mentions: "replica"),
            Case(
                name: "change wrong type", body: request([good.json, wrongType]), status: .badRequest, code: "invalid_request",
                mentions: "counter"),
            Case(
                name: "unknown key", body: Array("{\"replica\":\"\(alice.replica.hex)\",\"extra\":1}".utf8), status: .badRequest,
                code: "invalid_request", mentions: "extra"),
            Case(
                name: "invalid field value", body: request([good.json, badKilled]), status: .unprocessableContent,
                code: "invalid_field", mentions: "killed"),
            Case(
                name: "too many changes", body: request(manyChanges), status: .contentTooLarge, code: "too_many_changes",
                mentions: "10"),
            Case(name: "oversized body", body: big, status: .contentTooLarge, code: "payload_too_large", mentions: "bytes"),
            Case(
                name: "gzip bomb", body: bomb, headers: [.contentEncoding: "gzip"], status: .contentTooLarge,
                code: "payload_too_large",
                mentions: "decompresses"),
            Case(
                name: "bad gzip", body: Array("not gzip at all".utf8), headers: [.contentEncoding: "gzip"], status: .badRequest,
                code: "bad_encoding", mentions: "gzip"),
            Case(
                name: "truncated gzip", body: Array(try Gzip.compress(request([good.json])).dropLast(12)),
                headers: [.contentEncoding: "gzip"], status: .badRequest, code: "bad_encoding", mentions: "gzip"),
            Case(
                name: "unknown encoding", body: request([good.json]), headers: [.contentEncoding: "br"],
                status: .unsupportedMediaType,
                code: "unsupported_encoding", mentions: "br"),
            Case(
                name: "wrong content type", body: request([good.json]), headers: [.contentType: "text/plain"],
                status: .unsupportedMediaType, code: "unsupported_media_type", mentions: "Content-Type"),
        ]
        try await fixture.test { client in
            for c in cases {
                let r = try await postSync(client, token: token, body: c.body, headers: c.headers)
                #expect(r.status == c.status, "\(c.name): \(String(decoding: r.body.readableBytesView, as: UTF8.self))")
                #expect(errorCode(r) == c.code, "\(c.name)")
                #expect(errorMessage(r).contains(c.mentions), "\(c.name): \(errorMessage(r))")
                #expect(r.headers[.outpostServerTime] != nil, "\(c.name)")
                #expect(r.headers[.contentType] == "application/json", "\(c.name)")
                #expect(try fixture.store.lastSeq() == 0, "\(c.name) stored something")
            }
            // Routing errors.
            let unknown = try await client.executeRequest(uri: "/v1/nothing", method: .get, headers: [:], body: nil)
            #expect(unknown.status == .notFound && errorCode(unknown) == "not_found")
            #expect(unknown.headers[.outpostServerTime] != nil)
            let wrongMethod = try await client.executeRequest(uri: "/v1/sync", method: .get, headers: bearer(token), body: nil)
            #expect(wrongMethod.status == .methodNotAllowed && errorCode(wrongMethod) == "method_not_allowed")
            #expect(wrongMethod.headers[.allow] == "POST")
            let deleteIncident = try await client.executeRequest(uri: "/v1/incidents/x", method: .delete, headers: [:], body: nil)
            #expect(deleteIncident.status == .methodNotAllowed)
            // The server keeps serving: the valid change still goes through.
            let ok = try await postSync(client, token: token, body: request([good.json]))
            #expect(ok.status == .ok)
            #expect(try ServerSyncResponse.decode(try responseJSON(ok)).ackedCounter == 1)
            let health = try await client.executeRequest(uri: "/healthz", method: .get, headers: [:], body: nil)
            #expect(health.status == .ok)
        }
        #expect(try fixture.store.incidents().map(\.id) == [good.record.id])
    }

    @Test func invalidFieldErrorNamesTheField() async throws {
        let fixture = try ServerFixture()
        let alice = try fixture.replica("alice")
        let token = try fixture.token("alice", for: alice)
        let good = try alice.create(fields: ["title": "Valid"])
        guard case .object(var o) = good.json else { return }
        o["writes"] = ["title": "Valid", "killed": -1]
        let body = JSONValue.object(["replica": .string(alice.replica.hex), "changes": [.object(o)]]).serializedBytes()
        try await fixture.test { client in
            let r = try await postSync(client, token: token, body: body)
            #expect(r.status == .unprocessableContent)
            let error = try #require(try responseJSON(r)["error"])
            #expect(error["field"] == "killed")
            #expect(error["message"]?.stringValue?.contains("killed: must be from 0") == true)
        }
        #expect(try fixture.store.lastSeq() == 0)
    }
}
