import OutpostCore
import Testing

private let alice = ReplicaID(bytes: Array("alice".utf8))
private let bob = ReplicaID(bytes: Array("bob".utf8))

private func change(
    _ replica: ReplicaID, _ counter: UInt64, deps: [ReplicaID: UInt64] = [:], ms: Int64, _ writes: [String: JSONValue]
) -> Change {
    Change(
        dot: Dot(replica: replica, counter: counter), record: RecordKey(id: "r1"), deps: VersionVector(deps),
        tag: HLCTag(ms: ms, seq: 0), writes: writes)
}

@Suite struct MergeRuleTests {
    @Test func hybridClockNeverRunsBackwards() {
        var clock = HybridClock()
        #expect(clock.next(wallMs: 100) == HLCTag(ms: 100, seq: 0))
        #expect(clock.next(wallMs: 100) == HLCTag(ms: 100, seq: 1))
        #expect(clock.next(wallMs: 50) == HLCTag(ms: 100, seq: 2))
        #expect(clock.next(wallMs: 200) == HLCTag(ms: 200, seq: 0))
    }

    /// A record's first change makes one sibling per write (deps kept only for `_deleted`) and a
    /// vector holding just its dot, whichever way the state is built.
    @Test func aFirstChangeMakesOneSiblingPerWrite() {
        let deps = VersionVector([bob: 4])
        let changes = [
            Change(
                dot: Dot(replica: alice, counter: 7), record: RecordKey(id: "r1"), deps: deps, tag: HLCTag(ms: 5, seq: 2),
                writes: ["title": "x", "killed": 3, "_deleted": true, "lat": .null], reporter: "Alice"),
            change(bob, 1, ms: -3, ["narrative": "n"]),
            change(bob, 2, ms: 9, [:]),
        ]
        for c in changes {
            var fields: [String: [Sibling]] = [:]
            for (field, value) in c.writes {
                fields[field] = [
                    Sibling(value: value, dot: c.dot, tag: c.tag, deps: field == "_deleted" ? c.deps : nil, reporter: c.reporter)
                ]
            }
            let expected = RecordState(version: VersionVector([c.dot.replica: c.dot.counter]), fields: fields)
            #expect(RecordState(creating: c) == expected)
            var applied = RecordState()
            applied.apply(c)
            #expect(applied == expected)
            #expect(applied.decide(c) == .duplicate)
        }
    }

    @Test func duplicatesAndHeldBackChangesAreRecognised() {
        var state = RecordState()
        let create = change(alice, 1, ms: 1, ["title": "x"])
        let edit = change(bob, 1, deps: [alice: 1], ms: 2, ["killed": 1])
        #expect(state.decide(edit) == .holdBack)
        #expect(state.decide(create) == .apply)
        state.apply(create)
        #expect(state.decide(create) == .duplicate)
        #expect(state.decide(edit) == .apply)
    }

    @Test func concurrentWritesKeepSiblingsOrderedByTagThenReplica() {
        var state = RecordState()
        state.apply(change(alice, 1, ms: 1, ["title": "x"]))
        state.apply(change(alice, 2, deps: [alice: 1], ms: 10, ["place_name": "Gao"]))
        state.apply(change(bob, 1, deps: [alice: 1], ms: 10, ["place_name": "Gossi"]))
        #expect(state.visibleValue("place_name") == "Gossi")
        #expect(state.conflicts["place_name"]?.map(\.value) == ["Gossi", "Gao"])
        // Writing the field after seeing both resolves the conflict, whatever the clock says.
        state.apply(change(alice, 3, deps: [alice: 2, bob: 1], ms: 5, ["place_name": "Gao town"]))
        #expect(state.conflicts.isEmpty)
        #expect(state.visibleValue("place_name") == "Gao town")
    }

    @Test func aDeleteKeepsAnEditItsAuthorHadNotSeen() {
        var state = RecordState()
        state.apply(change(alice, 1, ms: 1, ["title": "x", "injured": 4]))
        state.apply(change(alice, 2, deps: [alice: 1], ms: 30, ["_deleted": true]))
        state.apply(change(bob, 1, deps: [alice: 1], ms: 20, ["injured": 9]))
        #expect(!state.isDeleted)
        #expect(state.isKeptAliveByConcurrentEdit)
        #expect(state.visibleFields == ["title": "x", "injured": 9])
        // A delete made after seeing the edit deletes the record.
        state.apply(change(alice, 3, deps: [alice: 2, bob: 1], ms: 40, ["_deleted": true]))
        #expect(state.isDeleted)
    }

    @Test func recordStateSurvivesItsStoredForm() throws {
        var state = RecordState()
        state.apply(change(alice, 1, ms: 1, ["title": "x", "lat": 12.345678901234567]))
        state.apply(change(bob, 1, ms: 2, ["_deleted": true]))
        let back = try RecordState(json: try JSONParser.parse(state.json.serialized()))
        #expect(back == state)
    }

    @Test func changeWireFormatRoundTripsAndRejectsBadInput() throws {
        let c = change(alice, 7, deps: [bob: 3], ms: 1_767_225_600_000, ["title": "x", "killed": 2])
        #expect(try Change(json: try JSONParser.parse(c.json.serialized())) == c)
        #expect(throws: ChangeFormatError.self) { try Change(json: ["replica": "zz", "counter": 1]) }
        var bad = c.json.objectValue!
        bad["counter"] = 0
        #expect(throws: ChangeFormatError.self) { try Change(json: .object(bad)) }
        bad = c.json.objectValue!
        bad["writes"] = ["title": ["nested": 1]]
        #expect(throws: ChangeFormatError.self) { try Change(json: .object(bad)) }
    }
}

@Suite struct EncodingTests {
    @Test func directEncodersWriteTheSameBytesAsTheTree() {
        var state = RecordState()
        let a = Change(
            dot: Dot(replica: alice, counter: 1), record: RecordKey(id: "r\"1"), deps: VersionVector(),
            tag: HLCTag(ms: 5, seq: 2), writes: ["title": "Tombouctou \u{2D5C}", "lat": 16.77, "killed": 0, "narrative": .null],
            reporter: "alice")
        let b = Change(
            dot: Dot(replica: bob, counter: 3), record: RecordKey(id: "r\"1"), deps: VersionVector([alice: 1, bob: 2]),
            tag: HLCTag(ms: 6, seq: 0), writes: ["_deleted": true])
        for change in [a, b] {
            #expect(change.encodedJSON() == change.json.serializedBytes())
            state.apply(change)
        }
        #expect(state.encodedJSON() == state.json.serializedBytes())
    }
}
