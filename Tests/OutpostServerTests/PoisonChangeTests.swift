import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OutpostCore
import OutpostServer
import OutpostStore
import OutpostSync
import Testing

/// Issue 10's poison change: `"ms": -9223372036854775808` was stored with 200, and every later
/// `GET /v1/incidents` killed the server. Each out-of-range value is now refused with a 4xx that
/// names it, nothing is stored, and the server and its listings keep working.
@Suite struct PoisonChangeTests {
    @Test func outOfRangeChangesAreRefusedAndTheServerKeepsServing() async throws {
        let fixture = try ServerFixture()
        let analyst = try fixture.token("desk", .analyst)
        let mallory = try fixture.replica("mallory")
        let token = try fixture.token("mallory", for: mallory)
        let good = try mallory.create(fields: ["title": "Market attack"])
        guard case .object(let members) = good.json else { Issue.record("a change is an object"); return }

        /// The change's JSON with one member's number text replaced (the serializer cannot write
        /// `-9223372036854775808` as a literal of another type, so the text is spliced in).
        @Sendable func body(_ key: String, _ number: String) -> [UInt8] {
            var o = members
            o[key] = .string("@@")
            let change = String(decoding: JSONValue.object(o).serializedBytes(), as: UTF8.self)
                .replacingOccurrences(of: "\"@@\"", with: number)
            return Array(#"{"replica":"\#(mallory.replica.hex)","changes":[\#(change)]}"#.utf8)
        }
        let poisons: [(name: String, body: [UInt8], mentions: String)] = [
            ("ms = Int64.min", body("ms", "-9223372036854775808"), "ms must be"),
            ("ms = Int64.max", body("ms", "9223372036854775807"), "ms must be"),
            ("ms past 9999-12-31", body("ms", "253402300800000"), "ms must be"),
            ("counter = 2^53", body("counter", "9007199254740992"), "counter must be"),
            ("seq = 2^32", body("seq", "4294967296"), "seq must be"),
        ]
        try await fixture.test { client in
            for poison in poisons {
                let r = try await postSync(client, token: token, body: poison.body)
                #expect((400..<500).contains(r.status.code), "\(poison.name): \(r.status)")
                #expect(errorMessage(r).contains(poison.mentions), "\(poison.name): \(errorMessage(r))")
                #expect(try fixture.store.lastSeq() == 0, "\(poison.name) stored something")
            }
            // Positive control: the same change with in-range values is taken.
            let ok = try await postSync(client, token: token, body: body("ms", String(good.tag.ms)))
            #expect(ok.status == .ok)
            let list = try await client.executeRequest(uri: "/v1/incidents", method: .get, headers: bearer(analyst), body: nil)
            #expect(list.status == .ok)
            let detail = try await client.executeRequest(
                uri: "/v1/incidents/\(good.record.id)", method: .get, headers: bearer(analyst), body: nil)
            #expect(detail.status == .ok)
            let health = try await client.executeRequest(uri: "/healthz", method: .get, headers: [:], body: nil)
            #expect(health.status == .ok)
        }
        #expect(try fixture.store.incidents().map(\.id) == [good.record.id])
    }
}
