import Foundation
import OutpostCore
import Testing

/// `Change(wireBytes:)` against the tree path it shortcuts, `Change(json: JSONParser.parse(…))`:
/// never a change the tree path refuses, the same change wherever both accept, and every change
/// as the encoder writes it accepted.
@Suite struct ChangeWireReaderTests {
    /// The tree path's change, or nil when it refuses the text.
    private func treeChange(_ bytes: [UInt8]) -> Change? {
        guard let json = try? JSONParser.parse(bytes) else { return nil }
        return try? Change(json: json)
    }

    private func wireChange(_ bytes: [UInt8]) -> Change? {
        bytes.withUnsafeBufferPointer { Change(wireBytes: $0) }
    }

    /// Checks the two paths agree on `bytes`; true when the wire reader accepted it.
    @discardableResult
    private func agree(_ bytes: [UInt8], _ label: @autoclosure () -> String) -> Bool {
        let wire = wireChange(bytes)
        let tree = treeChange(bytes)
        if let wire {
            #expect(tree == wire, "\(label()): the wire reader accepted what the tree path read otherwise")
            #expect(wire.boundsProblem == nil, "\(label()): the wire reader accepted a change out of bounds")
            return true
        }
        return false
    }

    private let alice = ReplicaID(hex: "0123456789abcdef0123456789abcdef")!
    private let bob = ReplicaID(hex: "fedcba9876543210fedcba9876543210")!

    /// Changes with every kind of value, escapes, a reporter or none, deps or none.
    private func samples() -> [Change] {
        [
            Change(
                dot: Dot(replica: alice, counter: 1), record: RecordKey(id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
                deps: VersionVector(), tag: HLCTag(ms: 1_700_000_000_123, seq: 0),
                writes: ["title": "Road blocked", "killed": 3, "lat": 12.625, "lon": -8.5, "status": "verified"],
                reporter: "alice"),
            Change(
                dot: Dot(replica: alice, counter: 7), record: RecordKey(id: "x"),
                deps: VersionVector([alice: 6, bob: 2]), tag: HLCTag(ms: 253_402_300_799_999, seq: 4_294_967_295),
                writes: [
                    "narrative": .string("line\nbreak \"quoted\" \\ tab\t ⵜⵉⵏⴱⵓⴽⵜⵓ 😀 \u{1}"), "place_name": .null,
                    Change.deletedField: false,
                ]),
            Change(
                dot: Dot(replica: bob, counter: 9_007_199_254_740_991),
                record: RecordKey(id: "A" + String(repeating: "z.9_:-", count: 33) + "b"),
                deps: VersionVector([alice: 1]), tag: HLCTag(ms: 0, seq: 17), writes: [Change.deletedField: true],
                reporter: "b\u{00f6}b"),
        ]
    }

    @Test func encodedChangesReadBackTheSame() {
        for change in samples() {
            let bytes = change.encodedJSON()
            #expect(wireChange(bytes) == change)
            #expect(wireChange(Array(change.json.serialized().utf8)) == change)
            // Spaced out, keys in another order, optional keys left out or null.
            var spaced = Array(" {\n".utf8)
            spaced += Array("\"writes\" : \(JSONValue.object(change.writes).serialized()) ,\t".utf8)
            spaced += Array("\"counter\":\(change.dot.counter),\r\n \"replica\":\"\(change.dot.replica.hex)\",".utf8)
            spaced += Array("\"id\": \(JSONValue.string(change.record.id).serialized()), \"ms\" :\(change.tag.ms) ".utf8)
            spaced += Array(", \"seq\": \(change.tag.seq), \"deps\": \(change.deps.json.serialized())".utf8)
            spaced += Array(", \"reporter\": \(change.reporter.map { JSONValue.string($0).serialized() } ?? "null") } \n".utf8)
            #expect(wireChange(spaced) == change)
            #expect(treeChange(spaced) == change)
        }
        // Missing collection, seq and deps take their defaults, as in the tree path.
        let bare = Array(
            #"{"replica":"0123456789abcdef0123456789abcdef","counter":2,"id":"a","ms":5,"writes":{"title":"T"}}"#.utf8)
        #expect(wireChange(bare) != nil)
        #expect(wireChange(bare) == treeChange(bare))
    }

    /// `Change(jsonBytes:)` reads what either path reads, and names the problem as the tree path does.
    @Test func jsonBytesTakesTheFastPathAndFallsBackWithTheTreePathsError() throws {
        for change in samples() {
            let bytes = change.encodedJSON()
            #expect(try bytes.withUnsafeBufferPointer { try Change(jsonBytes: $0) } == change)
        }
        // An escaped key: the wire reader declines, the tree path reads it.
        let base = String(decoding: samples()[0].encodedJSON(), as: UTF8.self)
        let escaped = Array(base.replacingOccurrences(of: "\"ms\":", with: "\"m\\u0073\":").utf8)
        #expect(wireChange(escaped) == nil)
        #expect(try escaped.withUnsafeBufferPointer { try Change(jsonBytes: $0) } == samples()[0])
        // Uppercase hex digits: refused by both, the tree path naming the problem.
        let upper = Array(
            base.replacingOccurrences(of: "0123456789abcdef0123456789abcdef", with: "0123456789ABCDEF0123456789ABCDEF").utf8)
        #expect(wireChange(upper) == nil)
        #expect(treeChange(upper) == nil)
        #expect(throws: ChangeFormatError("replica must be a replica id in lowercase hex (2–128 digits 0-9a-f)")) {
            try upper.withUnsafeBufferPointer { try Change(jsonBytes: $0) }
        }
        // Deps that name a replica twice are left to the tree path.
        let twice = String(decoding: samples()[1].encodedJSON(), as: UTF8.self)
        let doubled = twice.replacingOccurrences(of: #""deps":{"#, with: #""deps":{"fedcba9876543210fedcba9876543210":1,"#)
        #expect(doubled != twice)
        #expect(wireChange(Array(doubled.utf8)) == nil)
        // A bad value: the same error either way.
        let bad = Array(base.replacingOccurrences(of: "\"counter\":1", with: "\"counter\":0").utf8)
        var treeError = ""
        do { _ = try Change(json: try JSONParser.parse(bad)) } catch { treeError = "\(error)" }
        var bytesError = ""
        do { _ = try bad.withUnsafeBufferPointer { try Change(jsonBytes: $0) } } catch { bytesError = "\(error)" }
        #expect(!treeError.isEmpty && bytesError == treeError)
    }

    @Test func malformedAndInvalidChangesAreRefused() {
        let base = String(decoding: samples()[0].encodedJSON(), as: UTF8.self)
        let edits: [(String, String)] = [
            ("\"counter\":1", "\"counter\":0"), ("\"counter\":1", "\"counter\":1.0"), ("\"counter\":1", "\"counter\":\"1\""),
            ("\"collection\":\"incidents\"", "\"collection\":\"notes\""), ("\"collection\":\"incidents\"", "\"collection\":null"),
            ("\"deps\":{}", "\"deps\":{\"0123456789abcdef0123456789abcdef\":1}"), ("\"deps\":{}", "\"deps\":[]"),
            ("\"deps\":{}", "\"deps\":{\"zz\":1}"), ("\"deps\":{}", "\"deps\":{\"fedcba9876543210fedcba9876543210\":-1}"),
            ("\"id\":\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\"", "\"id\":\"\""),
            ("\"id\":\"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\"", "\"id\":\"\(String(repeating: "i", count: 201))\""),
            ("\"ms\":1700000000123", "\"ms\":1.5"), ("\"seq\":0", "\"seq\":-1"), ("\"seq\":0", "\"seq\":4294967296"),
            ("\"seq\":0", "\"seq\":null"), ("\"reporter\":\"alice\"", "\"reporter\":5"),
            ("\"replica\":\"0123456789abcdef0123456789abcdef\"", "\"replica\":\"xyz\""),
            ("\"replica\":\"0123456789abcdef0123456789abcdef\"", "\"replica\":5"),
            ("\"title\":\"Road blocked\"", "\"title\":[\"Road\"]"), ("\"title\":\"Road blocked\"", "\"title\":{\"a\":1}"),
            ("\"title\":\"Road blocked\"", "\"title\":\"Road\",\"title\":\"again\""),
            ("\"ms\":", "\"ms\":1,\"ms\":"), ("\"ms\":", "\"extra\":1,\"ms\":"), ("\"ms\":", "\"m\\u0073\":"),
            ("{\"collection\"", "[{\"collection\""), ("\"seq\":0", "\"seq\":0,"), ("\"seq\":0,", "\"seq\":0 "),
            ("\"title\":\"Road blocked\"", "\"title\":\"Road \u{1} blocked\""), ("\"title\":\"Road blocked\"", "\"title\":tru"),
        ]
        for (old, new) in edits {
            #expect(base.contains(old), "\(old)")
            let bytes = Array(base.replacingOccurrences(of: old, with: new).utf8)
            #expect(wireChange(bytes) == nil, "\(new)")
            #expect(treeChange(bytes) == nil || new.contains("\\u0073"), "\(new)")
        }
        let writesOnly = base.replacingOccurrences(of: #""writes":{"#, with: #""writes":{}, "x":{"#)
        #expect(wireChange(Array(writesOnly.utf8)) == nil)
        for cut in 0..<base.utf8.count {
            #expect(wireChange(Array(base.utf8.prefix(cut))) == nil, "cut at \(cut)")
        }
        #expect(wireChange(Array((base + " x").utf8)) == nil)
        #expect(wireChange([0xFF] + Array(base.utf8)) == nil)
    }

    /// Damaged at random (bytes replaced, dropped or doubled), the text is refused by both or read
    /// the same by both.
    @Test func randomDamageNeverSplitsThePaths() {
        var generator = SplitMix64(seed: 42)
        let alphabet = Array("{}[]\":,\\ 0123456789-.eEtrufalsnABCDEF\u{7F}xé".utf8) + [0x00, 0x0A, 0xC3, 0xFF]
        var accepted = 0
        for change in samples() {
            let bytes = change.encodedJSON()
            for _ in 0..<3000 {
                var damaged = bytes
                for _ in 0..<(1 + Int(generator.next() % 3)) {
                    let at = Int(generator.next() % UInt64(damaged.count))
                    switch generator.next() % 3 {
                    case 0: damaged[at] = alphabet[Int(generator.next() % UInt64(alphabet.count))]
                    case 1: damaged.remove(at: at)
                    default: damaged.insert(damaged[at], at: at)
                    }
                    if damaged.isEmpty { break }
                }
                if agree(damaged, String(decoding: damaged, as: UTF8.self)) { accepted += 1 }
            }
        }
        // Some damage leaves a valid change (a digit for a digit): those were compared above.
        #expect(accepted > 0)
    }
}
