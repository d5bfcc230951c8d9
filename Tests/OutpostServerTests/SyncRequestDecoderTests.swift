import Foundation
import OutpostCore
import OutpostStore
import Testing

@testable import OutpostServer
@testable import OutpostSync

@Suite struct SyncRequestDecoderTests {
    /// Changes of one replica, with text that needs escapes and brackets inside strings.
    func sampleChanges(_ count: Int) throws -> (Store, [Change], ServerFixture) {
        let fixture = try ServerFixture()
        let alice = try fixture.replica("alice")
        var changes: [Change] = []
        for i in 0..<count {
            changes.append(
                try alice.create(fields: [
                    "title": .string("Split \(i) \"[{\\\"}]\" ⵜⵉⵏⴱⵓⴽⵜⵓ"), "narrative": .string("a],{b}\n\t\\\\ \(i)"),
                    "lat": .double(1.25 * Double(i % 50)), "killed": .int(Int64(i % 7)),
                ]))
        }
        return (alice, changes, fixture)
    }

    /// The fast decoder gives exactly what the whole-tree decoder gives, for small and large
    /// batches, compact or spaced out.
    @Test func fastDecodeEqualsTheTreeDecode() async throws {
        let (alice, changes, _) = try sampleChanges(150)
        for n in [0, 1, 63, 64, 150] {
            let request = ServerSyncRequest(
                replica: alice.replica, reporter: "alice", changes: Array(changes.prefix(n)), pullAfter: 9, pullLimit: 77,
                pullMaxBytes: 5000)
            let compact = request.encoded()
            var spaced = Array(" \n{ \"pull\" : {\"after\":9, \"limit\":77,\"max_bytes\":5000},\t\"changes\" :\r\n [ ".utf8)
            for (i, change) in changes.prefix(n).enumerated() {
                if i > 0 { spaced += Array(" ,\n ".utf8) }
                spaced += change.encodedJSON()
            }
            spaced += Array(" ] , \"replica\":\"\(alice.replica.hex)\", \"reporter\": \"alice\" } \n".utf8)
            for body in [compact, spaced] {
                let slow = try ServerSyncRequest.decode(try JSONParser.parse(body))
                let fast = try #require(await SyncRequestDecoder.decodeValid(body, maxChanges: 5000), "n = \(n)")
                #expect(fast == slow, "n = \(n)")
                #expect(fast.changes.count == n)
                #expect(SyncRequestDecoder.decodeValidSerially(body, maxChanges: 5000) == slow, "n = \(n)")
            }
        }
    }

    /// Anything not plainly a valid request is left to the tree decoder (nil), which names the problem.
    @Test func anythingUnusualFallsBackToTheTreeDecoder() async throws {
        let (alice, changes, _) = try sampleChanges(80)
        let good = ServerSyncRequest(replica: alice.replica, reporter: "alice", changes: changes, pullAfter: 0).encoded()
        let text = String(decoding: good, as: UTF8.self)
        #expect(await SyncRequestDecoder.decodeValid(good, maxChanges: 5000) != nil)
        var invalidField = changes
        invalidField[70].writes["killed"] = .int(-1)
        var badChange = changes[3].json
        if case .object(var o) = badChange {
            o["counter"] = "three"
            badChange = .object(o)
        }
        let refused: [(String, [UInt8], Int)] = [
            ("too many changes", good, 79),
            (
                "invalid field",
                ServerSyncRequest(replica: alice.replica, reporter: "alice", changes: invalidField, pullAfter: 0).encoded(), 5000
            ),
            (
                "bad change",
                Array(
                    text.replacingOccurrences(
                        of: String(decoding: changes[3].encodedJSON(), as: UTF8.self), with: badChange.serialized()
                    ).utf8), 5000
            ),
            ("truncated", Array(good.dropLast(2)), 5000),
            ("trailing text", good + Array(" x".utf8), 5000),
            ("two changes keys", Array(text.replacingOccurrences(of: "\"pull\":", with: "\"changes\":[],\"pull\":").utf8), 5000),
            ("escaped key", Array(text.replacingOccurrences(of: "\"changes\":", with: "\"chang\\u0065s\":").utf8), 5000),
            ("no changes key", Array("{\"replica\":\"\(alice.replica.hex)\"}".utf8), 5000),
            ("unknown key", Array(text.replacingOccurrences(of: "\"pull\":", with: "\"extra\":1,\"pull\":").utf8), 5000),
            ("not an object", Array("[1,2]".utf8), 5000),
            ("element garbage", Array(text.replacingOccurrences(of: "\"changes\":[", with: "\"changes\":[tru,").utf8), 5000),
        ]
        for (name, body, maxChanges) in refused {
            #expect(await SyncRequestDecoder.decodeValid(body, maxChanges: maxChanges) == nil, "\(name)")
            #expect(SyncRequestDecoder.decodeValidSerially(body, maxChanges: maxChanges) == nil, "\(name)")
        }
    }

    /// The trust fields (`key`, `bind`, `roster_after`, `summary`, `pull.after_dot`) round-trip
    /// through both decoders, and a bad value or an unknown key beside them is still refused.
    @Test func trustFieldsRoundTripThroughBothDecoders() async throws {
        let (alice, changes, _) = try sampleChanges(70)
        let token = "tok-abcdefghijklmnopqrstuvwxyz"
        let key = DeviceKey()
        let request = ServerSyncRequest(
            replica: alice.replica, reporter: "alice", changes: changes, pullAfter: 12, pullLimit: 40,
            pullAfterDot: Dot(replica: alice.replica, counter: 987_654), key: key.publicKey,
            bind: key.signature(for: Store.bindingMessage(replica: key.replicaID, token: token)),
            rosterAfter: 3, wantsSummary: true)
        let body = request.encoded()
        let slow = try ServerSyncRequest.decode(try JSONParser.parse(body))
        #expect(slow.key == key.publicKey)
        #expect(
            slow.bind.map {
                SignatureCheck.isValid(
                    $0, of: Store.bindingMessage(replica: key.replicaID, token: token), publicKey: key.publicKey)
            } == true)
        #expect(slow.rosterAfter == 3 && slow.wantsSummary && slow.pullAfterDot == Dot(replica: alice.replica, counter: 987_654))
        #expect(slow.changes == changes)
        #expect(await SyncRequestDecoder.decodeValid(body, maxChanges: 5000) == slow)
        #expect(SyncRequestDecoder.decodeValidSerially(body, maxChanges: 5000) == slow)
        // Absent fields stay absent.
        let plain = try ServerSyncRequest.decode(
            try JSONParser.parse(ServerSyncRequest(replica: alice.replica, reporter: nil, changes: [], pullAfter: 0).encoded()))
        #expect(
            plain.key == nil && plain.bind == nil && plain.rosterAfter == nil && !plain.wantsSummary && plain.pullAfterDot == nil)
        let text = String(decoding: body, as: UTF8.self)
        let bad: [(String, String)] = [
            ("short key", text.replacingOccurrences(of: Base64URL.encode(key.publicKey), with: "AAAA")),
            ("bind not a string", text.replacingOccurrences(of: "\"bind\":\"", with: "\"bind\":1,\"x\":\"")),
            ("negative roster_after", text.replacingOccurrences(of: "\"roster_after\":3", with: "\"roster_after\":-1")),
            ("summary not a bool", text.replacingOccurrences(of: "\"summary\":true", with: "\"summary\":1")),
            ("after_dot counter 0", text.replacingOccurrences(of: "\"counter\":987654", with: "\"counter\":0")),
            ("after_dot extra key", text.replacingOccurrences(of: "\"counter\":987654", with: "\"counter\":987654,\"x\":1")),
            ("unknown key", text.replacingOccurrences(of: "\"summary\":true", with: "\"summary\":true,\"sumary\":true")),
        ]
        for (name, variant) in bad {
            #expect(variant != text, "\(name)")
            let bytes = Array(variant.utf8)
            #expect(throws: ChangeFormatError.self, "\(name)") { try ServerSyncRequest.decode(try JSONParser.parse(bytes)) }
            #expect(await SyncRequestDecoder.decodeValid(bytes, maxChanges: 5000) == nil, "\(name)")
        }
    }

    /// The response's trust fields round-trip.
    @Test func responseTrustFieldsRoundTrip() throws {
        let rosterKey = DeviceKey()
        let device = DeviceKey()
        let entry = RosterEntry(replica: device.replicaID, key: device.publicKey, reporter: "bob", status: .active, version: 4)
            .signed(by: rosterKey)
        let response = ServerSyncResponse(
            serverTimeMs: 5, ackedCounter: 2, applied: 1, duplicates: 0, heldBack: 0, changes: [], cursor: 9, more: false,
            cursorDot: Dot(replica: device.replicaID, counter: 3), cursorReset: true, rosterKey: rosterKey.publicKey,
            roster: [entry], summary: SyncSummary(entries: [device.replicaID: .init(contiguous: 3, extra: [5])]))
        let decoded = try ServerSyncResponse.decode(try JSONParser.parse(response.encoded()))
        #expect(decoded == response)
        #expect(decoded.roster.first?.isValid(rosterPublicKey: rosterKey.publicKey) == true)
    }

    /// The splitter finds each element whatever brackets and quotes its strings hold.
    @Test func splitterFindsElements() throws {
        let text = #"{"a":{"x":[1,{"y":"]}"}]},"changes":[ {"s":"\"],["} , [1,[2]] ,"q\\",-1.5e3,true ],"z":null}"#
        let bytes = Array(text.utf8)
        let split = try #require(bytes.withUnsafeBufferPointer { ChangesSplitter.split($0) })
        let parts = split.elements.map { String(decoding: bytes[$0], as: UTF8.self) }
        #expect(parts == [#"{"s":"\"],["}"#, "[1,[2]]", #""q\\""#, "-1.5e3", "true"])
        #expect(String(decoding: bytes[split.array], as: UTF8.self).hasPrefix("[ {"))
        #expect(String(decoding: bytes[split.array], as: UTF8.self).hasSuffix("true ]"))
        let empty = Array(#"{"changes":[ ]}"#.utf8)
        #expect(empty.withUnsafeBufferPointer { ChangesSplitter.split($0) }?.elements == [])
        for broken in [#"{"changes":[1,]}"#, #"{"changes":[1 2]}"#, #"{"changes":[1}"#, #"{"changes":["x]}"#, "{", ""] {
            #expect(Array(broken.utf8).withUnsafeBufferPointer { ChangesSplitter.split($0) } == nil, "\(broken)")
        }
    }

    /// Every prefix of a body is refused without reading past its end (a fuzzer finding: a body
    /// ending just after a comma in `changes` read one byte beyond it; in a debug build that traps).
    @Test func splitterRefusesEveryTruncatedBody() {
        let text = Array(#"{"changes":[ {"s":"a\"b"} , [1,[2]] , 3 ],"z":null}"#.utf8)
        for end in 0..<text.count {
            let prefix = Array(text[..<end])
            #expect(prefix.withUnsafeBufferPointer { ChangesSplitter.split($0) } == nil, "\(end) bytes")
        }
        #expect(text.withUnsafeBufferPointer { ChangesSplitter.split($0) }?.elements.count == 3)
    }
}
