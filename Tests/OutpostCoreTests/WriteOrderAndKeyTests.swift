import OutpostCore
import Testing

/// The write order `(ms, seq, replica, counter)` (issue 11, finding 7) and record keys compared
/// byte for byte (finding 4).
@Suite struct WriteOrderAndKeyTests {
    private let mallory = ReplicaID(bytes: Array("mallory".utf8))
    private let zed = ReplicaID(bytes: Array("zed".utf8))

    private func change(_ replica: ReplicaID, _ counter: UInt64, ms: Int64, seq: UInt32 = 0, _ title: String) -> Change {
        Change(
            dot: Dot(replica: replica, counter: counter), record: RecordKey(id: "r1"), deps: VersionVector(),
            tag: HLCTag(ms: ms, seq: seq), writes: ["title": .string(title)])
    }

    @Test func theCounterBreaksATieOfTagAndAuthor() {
        let tag = HLCTag(ms: 5, seq: 1)
        #expect(WriteOrder(tag: tag, author: mallory, counter: 1) < WriteOrder(tag: tag, author: mallory, counter: 2))
        // The counter only decides what tag and author leave equal.
        #expect(WriteOrder(tag: tag, author: mallory, counter: 9) < WriteOrder(tag: tag, author: zed, counter: 1))
        #expect(
            WriteOrder(tag: tag, author: zed, counter: 9) < WriteOrder(tag: HLCTag(ms: 5, seq: 2), author: mallory, counter: 1))
        #expect(change(mallory, 2, ms: 5, "b").order > change(mallory, 1, ms: 5, "a").order)
    }

    /// Two changes of one (faulty) replica with one tag: in either arrival order the one with the
    /// greater counter is visible (it used to be whichever came first).
    @Test func equalTagsFromOneReplicaShowTheGreaterCounterInAnyOrder() {
        let first = change(mallory, 1, ms: 5, "first")
        let second = change(mallory, 2, ms: 5, "second")
        var inOrder = RecordState()
        for c in [first, second] where inOrder.decide(c) == .apply { inOrder.apply(c) }
        var reversed = RecordState()
        for c in [second, first] where reversed.decide(c) == .apply { reversed.apply(c) }
        #expect(inOrder.visibleValue("title") == "second")
        #expect(reversed.visibleValue("title") == "second")
        #expect(inOrder.fields["title"]!.map(\.dot.counter) == [2, 1])
        // With a third write between them in the order, the siblings stay sorted.
        var three = RecordState()
        for c in [first, change(zed, 1, ms: 5, "zed"), second] where three.decide(c) == .apply { three.apply(c) }
        #expect(three.fields["title"]!.map(\.value) == ["zed", "second", "first"])
    }

    /// "Séance" spelled precomposed (NFC) and decomposed (NFD) is equal as a Swift `String`, but
    /// two ids: keys compare, hash and sort byte for byte.
    @Test func recordKeysCompareByteForByte() {
        let nfc = RecordKey(id: "S\u{E9}ance")
        let nfd = RecordKey(id: "Se\u{301}ance")
        #expect(nfc.id == nfd.id)  // Swift's canonical equivalence: the trap
        #expect(nfc != nfd)
        #expect(Set([nfc, nfd]).count == 2)
        #expect([nfc: 1, nfd: 2].count == 2)
        // Byte order: "e" (0x65) < "é" (0xC3 0xA9).
        #expect(nfd < nfc && !(nfc < nfd))
        #expect(RecordKey.idPrecedes(nfd.id, nfc.id) && !RecordKey.idPrecedes(nfc.id, nfd.id))
        #expect(RecordKey(id: "r1") == RecordKey(id: "r1") && RecordKey(id: "r1").hashValue == RecordKey(id: "r1").hashValue)
        #expect(RecordKey(collection: "incidents", id: "x") != RecordKey(collection: "incidentsx", id: ""))
        let ids = ["b", "B", "a-1", "a.1", "a", "A", "0", "a:1", "a_1", "Z9"]
        #expect(
            ids.map { RecordKey(id: $0) }.sorted().map(\.id)
                == ids.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
    }

    /// A field name is looked up byte for byte too.
    @Test func fieldNamesAreMatchedByteForByte() {
        #expect(IncidentSchema.fieldIndex("title") != nil)
        // U+212A KELVIN SIGN is canonically equivalent to "K": not a field name here.
        #expect("\u{212A}" == "K")
        #expect(IncidentSchema.fieldIndex("\u{212A}illed") == nil)
    }
}
