import OutpostCore
import Testing

/// A numbering like a store's replicas table: replicas numbered 1, 2, 3, … as first seen.
private final class TableNumbering: ReplicaNumbering {
    var ids: [ReplicaID] = []
    var reporters: [Int64: String] = [:]

    func number(of replica: ReplicaID) throws -> Int64 {
        if let i = ids.firstIndex(of: replica) { return Int64(i + 1) }
        ids.append(replica)
        return Int64(ids.count)
    }
    func replica(numbered number: Int64) throws -> ReplicaID { ids[Int(number - 1)] }
    func reporter(numbered number: Int64) throws -> String? { reporters[number] }
}

private let alice = ReplicaID(bytes: Array("alice".utf8))
private let bob = ReplicaID(bytes: Array("bob".utf8))
private let carol = ReplicaID.random()

/// States that exercise every part of the format: siblings, deletes with deps, unknown fields,
/// every value type, reporters equal to, different from and missing from the table.
private func sampleStates() -> [RecordState] {
    var states: [RecordState] = [RecordState()]
    var s = RecordState()
    s.apply(
        Change(
            dot: Dot(replica: alice, counter: 1), record: RecordKey(id: "r"), deps: VersionVector(),
            tag: HLCTag(ms: 1_767_225_600_000, seq: 3),
            writes: [
                "title": "Shelling — قصف", "killed": 3, "lat": -1.6812345, "lon": 29.2212345, "narrative": "a\n\"b\"\u{1}",
                "displaced": .null, "custom_field": true, "status": "submitted", "injured": .int(Int64.min),
            ], reporter: "Alice"))
    states.append(s)
    s.apply(
        Change(
            dot: Dot(replica: bob, counter: 1), record: RecordKey(id: "r"), deps: VersionVector([alice: 1]),
            tag: HLCTag(ms: 5, seq: 0), writes: ["killed": 4, "title": "B"], reporter: "Bobby"))
    s.apply(
        Change(
            dot: Dot(replica: carol, counter: 7), record: RecordKey(id: "r"), deps: VersionVector([alice: 1]),
            tag: HLCTag(ms: 9, seq: UInt32.max), writes: ["killed": 5, Change.deletedField: true], reporter: nil))
    states.append(s)
    s.apply(
        Change(
            dot: Dot(replica: alice, counter: 2), record: RecordKey(id: "r"), deps: s.version,
            tag: HLCTag(ms: -20, seq: 1), writes: [Change.deletedField: false, "killed": 6], reporter: "Alice"))
    states.append(s)
    // Siblings that share a dot but not a tag (only constructible by hand) still round-trip.
    states.append(
        RecordState(
            version: VersionVector([alice: 1]),
            fields: [
                "a": [Sibling(value: "x", dot: Dot(replica: alice, counter: 1), tag: HLCTag(ms: 1, seq: 0))],
                "b": [Sibling(value: "y", dot: Dot(replica: alice, counter: 1), tag: HLCTag(ms: 2, seq: 0), reporter: "z")],
                "c": [Sibling(value: .array([1, "two"]), dot: Dot(replica: alice, counter: 1), tag: HLCTag(ms: 1, seq: 0))],
            ]))
    return states
}

@Suite struct RecordStateBinaryTests {
    @Test func roundTripsEveryState() throws {
        let numbering = TableNumbering()
        numbering.reporters = [1: "Alice", 2: "Bob"]
        for state in sampleStates() {
            let bytes = try state.encodedBinary(numbering: numbering)
            let back = try bytes.withUnsafeBufferPointer { try RecordState(binary: $0, numbering: numbering) }
            #expect(back == state)
        }
    }

    @Test func agreesWithTheJSONForm() throws {
        let numbering = TableNumbering()
        for state in sampleStates() {
            let fromJSON = try RecordState(json: try JSONParser.parse(state.encodedJSON()))
            let fromBinary = try state.encodedBinary(numbering: numbering).withUnsafeBufferPointer {
                try RecordState(binary: $0, numbering: numbering)
            }
            #expect(fromJSON == fromBinary)
            var visible: [UInt8] = []
            state.writeVisibleJSON(to: &visible)
            #expect(visible == JSONValue.object(state.visibleFields).serializedBytes())
        }
    }

    @Test func isCompactAndLeavesOutTheTableReporter() throws {
        let numbering = TableNumbering()
        numbering.reporters = [1: "Alice"]
        let state = sampleStates()[1]
        let bytes = try state.encodedBinary(numbering: numbering)
        #expect(!bytes.contains(Array("Alice".utf8)))
        #expect(bytes.count < state.encodedJSON().count / 2)
    }

    @Test func rejectsDamagedBytes() throws {
        let numbering = TableNumbering()
        let bytes = try sampleStates()[3].encodedBinary(numbering: numbering)
        for cut in [0, 1, bytes.count / 2, bytes.count - 1] {
            #expect(throws: (any Error).self) {
                try Array(bytes[..<cut]).withUnsafeBufferPointer { try RecordState(binary: $0, numbering: numbering) }
            }
        }
        #expect(throws: (any Error).self) {
            try (bytes + [0]).withUnsafeBufferPointer { try RecordState(binary: $0, numbering: numbering) }
        }
    }

    @Test func aCreatingChangeEncodesLikeTheStateItMakes() throws {
        let changes = [
            Change(
                dot: Dot(replica: alice, counter: 1), record: RecordKey(id: "r"), deps: VersionVector(),
                tag: HLCTag(ms: 1_767_225_600_000, seq: 3),
                writes: [
                    "title": "Shelling — قصف", "killed": 3, "lat": -1.6812345, "narrative": "a\n\"b\"\u{1}", "displaced": .null,
                    "custom_field": true, "injured": .int(Int64.min), "tags": .array([1, "two"]),
                ], reporter: "Alice"),
            Change(
                dot: Dot(replica: carol, counter: 9), record: RecordKey(id: "s"), deps: VersionVector([bob: 2]),
                tag: HLCTag(ms: -5, seq: UInt32.max), writes: ["title": "x"], reporter: nil),
            Change(
                dot: Dot(replica: bob, counter: 2), record: RecordKey(id: "t"), deps: VersionVector(),
                tag: HLCTag(ms: 0, seq: 0), writes: [:], reporter: "Bobby"),
        ]
        let numbering = TableNumbering()
        numbering.reporters[1] = "Alice"
        for change in changes {
            var expected = RecordState()
            expected.apply(change)
            let bytes = try RecordState.encodedBinary(creating: change, numbering: numbering)
            let decoded = try bytes.withUnsafeBufferPointer { try RecordState(binary: $0, numbering: numbering) }
            #expect(decoded == expected)
        }
    }
}
