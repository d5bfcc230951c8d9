import OutpostCore
import Testing

/// The bounds of `trust.md` ("Bounds") in both change decoders (issue 10 item 1, issue 11 items
/// 1, 4, 5, 6): each poison value refused by the fast wire reader and the tree path alike, with
/// an error naming the field and its range; the values at the bounds taken by both, as the same
/// change; a store's own log read without the bounds.
@Suite struct ChangeBoundsTests {
    private static let alice = "0123456789abcdef0123456789abcdef"

    /// A change's wire JSON with `members` replacing or adding keys (raw JSON text per key).
    private func changeText(_ members: [String: String] = [:]) -> [UInt8] {
        var all: [String: String] = [
            "replica": "\"\(Self.alice)\"", "counter": "3", "collection": "\"incidents\"", "id": "\"r-1\"", "deps": "{}",
            "ms": "1767225600000", "seq": "0", "writes": #"{"title":"Road blocked"}"#,
        ]
        for (key, value) in members { all[key] = value }
        return Array(("{" + all.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}").utf8)
    }

    private func wireChange(_ bytes: [UInt8]) -> Change? { bytes.withUnsafeBufferPointer { Change(wireBytes: $0) } }

    /// The tree path's change or its error message.
    private func treeResult(_ bytes: [UInt8], _ decoding: ChangeDecoding = .wire) -> Result<Change, ChangeFormatError> {
        do {
            let json = try JSONParser.parse(bytes)
            do { return .success(try Change(json: json, decoding: decoding)) } catch { return .failure(error) }
        } catch {
            return .failure(ChangeFormatError("\(error)"))
        }
    }

    /// `Change(jsonBytes:)`'s error text, nil when it takes the bytes.
    private func bytesError(_ bytes: [UInt8], _ decoding: ChangeDecoding = .wire) -> String? {
        do {
            _ = try bytes.withUnsafeBufferPointer { try Change(jsonBytes: $0, decoding: decoding) }
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Both paths refuse `bytes`; the error (tree path and `Change(jsonBytes:)` alike) is `message`.
    private func expectRefused(_ bytes: [UInt8], _ message: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(wireChange(bytes) == nil, "the wire reader took it", sourceLocation: sourceLocation)
        guard case .failure(let error) = treeResult(bytes) else {
            Issue.record("the tree path took it", sourceLocation: sourceLocation)
            return
        }
        #expect(error.message == message, sourceLocation: sourceLocation)
        guard let text = bytesError(bytes) else {
            Issue.record("Change(jsonBytes:) took it", sourceLocation: sourceLocation)
            return
        }
        #expect(text == message, sourceLocation: sourceLocation)
    }

    /// Both paths take `bytes` and read the same change.
    @discardableResult
    private func expectTaken(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> Change? {
        let wire = wireChange(bytes)
        #expect(wire != nil, "the wire reader refused it", sourceLocation: sourceLocation)
        guard case .success(let tree) = treeResult(bytes) else {
            Issue.record("the tree path refused it: \(treeResult(bytes))", sourceLocation: sourceLocation)
            return nil
        }
        #expect(wire == tree, sourceLocation: sourceLocation)
        return tree
    }

    private static let msRule = "ms must be a whole number from 0 to 253402300799999 (1970-01-01 to 9999-12-31), not"
    private static let counterRule = "counter must be a whole number from 1 to 9007199254740991 (2^53 − 1), not"

    @Test func poisonTimesAreRefusedByBothPaths() {
        for ms in [Int64.min, Int64.max, -1, 253_402_300_800_000] {
            expectRefused(changeText(["ms": "\(ms)"]), "\(Self.msRule) \(ms)")
        }
        for ms: Int64 in [0, 253_402_300_799_999] { #expect(expectTaken(changeText(["ms": "\(ms)"]))?.tag.ms == ms) }
    }

    @Test func countersAndSeqOutOfRangeAreRefusedByBothPaths() {
        expectRefused(changeText(["counter": "9007199254740992"]), "\(Self.counterRule) 9007199254740992")
        expectRefused(changeText(["counter": "\(Int64.max)"]), "\(Self.counterRule) \(Int64.max)")
        expectRefused(changeText(["counter": "0"]), "\(Self.counterRule) 0")
        expectRefused(changeText(["counter": "-9223372036854775808"]), "\(Self.counterRule) -9223372036854775808")
        #expect(expectTaken(changeText(["counter": "9007199254740991"]))?.dot.counter == 9_007_199_254_740_991)

        expectRefused(
            changeText(["seq": "4294967296"]), "seq must be a whole number from 0 to 4294967295 (2^32 − 1), not 4294967296")
        expectRefused(changeText(["seq": "-1"]), "seq must be a whole number from 0 to 4294967295 (2^32 − 1), not -1")
        #expect(expectTaken(changeText(["seq": "4294967295"]))?.tag.seq == UInt32.max)

        let bob = "fedcba9876543210fedcba9876543210"
        expectRefused(
            changeText(["deps": "{\"\(bob)\":9007199254740992}"]),
            "deps[\(bob)] must be a whole number from 1 to 9007199254740991 (2^53 − 1), not 9007199254740992")
        // A deps entry of 0 says nothing: refused as out of range, by both paths.
        expectRefused(
            changeText(["deps": "{\"\(bob)\":0}"]),
            "deps[\(bob)] must be a whole number from 1 to 9007199254740991 (2^53 − 1), not 0")
        expectRefused(
            changeText(["deps": "{\"\(bob)\":1.5}"]), "deps[\(bob)] must be a whole number from 1 to 9007199254740991 (2^53 − 1)")
        #expect(expectTaken(changeText(["deps": "{\"\(bob)\":9007199254740991}"]))?.deps.entries.count == 1)
    }

    /// Issue 11, finding 6: replica ids on the wire are lowercase hex only.
    @Test func uppercaseHexIsRefusedByBothPaths() {
        let upper = Self.alice.uppercased()
        expectRefused(
            changeText(["replica": "\"\(upper)\""]), "replica must be a replica id in lowercase hex (2–128 digits 0-9a-f)")
        expectRefused(
            changeText(["deps": "{\"FEDCBA9876543210FEDCBA9876543210\":1}"]),
            "deps key \"FEDCBA9876543210FEDCBA9876543210\" is not a replica id in lowercase hex (2–128 digits 0-9a-f)")
        // One replica in two spellings: what used to decode differently from run to run.
        expectRefused(
            changeText(["deps": #"{"fedcba9876543210fedcba9876543210":1,"FEDCBA9876543210FEDCBA9876543210":5}"#]),
            "deps key \"FEDCBA9876543210FEDCBA9876543210\" is not a replica id in lowercase hex (2–128 digits 0-9a-f)")
        #expect(ReplicaID(hex: upper) == nil)
        #expect(ReplicaID(hex: "0a") != nil && ReplicaID(hex: "0A") == nil && ReplicaID(hex: "0g") == nil)
        #expect(
            ReplicaID(hex: String(repeating: "ab", count: 64)) != nil && ReplicaID(hex: String(repeating: "ab", count: 65)) == nil
        )
    }

    /// `deps` entries: at most 10,000, each replica once; read in linear time (a named list
    /// searched per entry took 44 s for 16,000 entries).
    @Test func depsAreBoundedAndReadOnce() {
        func hex(_ i: Int) -> String {
            let digits = Array("0123456789abcdef")
            return String((0..<8).map { digits[(i >> (4 * (7 - $0))) & 0xF] })
        }
        func deps(_ n: Int, extra: String = "") -> String {
            "{" + (0..<n).map { "\"\(hex($0 + 1))\":\($0 + 1)" }.joined(separator: ",") + extra + "}"
        }
        let ten = expectTaken(changeText(["deps": deps(10_000)]))
        #expect(ten?.deps.entries.count == 10_000)
        #expect(ten?.deps[ReplicaID(hex: hex(10_000))!] == 10_000)
        expectRefused(changeText(["deps": deps(10_001)]), "deps name 10001 replicas; at most 10000 are allowed")
        expectRefused(changeText(["deps": deps(16_000)]), "deps name 16000 replicas; at most 10000 are allowed")
        // The same replica again at the end of a long list: the JSON parser's duplicate key.
        let twice = changeText(["deps": deps(9_999, extra: ",\"\(hex(1))\":7")])
        #expect(wireChange(twice) == nil)
        guard case .failure(let error) = treeResult(twice) else {
            Issue.record("a replica named twice was taken")
            return
        }
        #expect(error.message.contains("duplicate"), "\(error.message)")
        // A store's own log is read without the entry limit (and still once per entry).
        let stored = changeText(["deps": deps(16_000)]).withUnsafeBufferPointer { try? Change(storedJSONBytes: $0) }
        #expect(stored?.deps.entries.count == 16_000)
        #expect(stored?.boundsProblem == "deps name 16000 replicas; at most 10000 are allowed")
        #expect(stored == (try? treeResult(changeText(["deps": deps(16_000)]), .stored).get()))
    }

    /// Issue 11, finding 4: ids match `[A-Za-z0-9][A-Za-z0-9._:-]{0,199}`.
    @Test func recordIDsFollowThePattern() {
        let rule = "id " + RecordKey.idRule
        for id in [
            "S\u{E9}gou", "Se\u{301}gou", "", " r1", "r 1", "-r1", ".r1", "_r1", "r/1", "r1\n", "r\u{0}1",
            String(repeating: "a", count: 201), "\u{FF21}1",
        ] {
            expectRefused(changeText(["id": JSONValue.string(id).serialized()]), rule)
            #expect(!RecordKey.isValidID(id), "\(id.debugDescription)")
        }
        for id in [
            "r1", "R", "0", "01a21f58-8f76-7586-bfd4-df6899910af8", "a.b_c:d-e", "9:", String(repeating: "a", count: 200),
        ] {
            #expect(expectTaken(changeText(["id": JSONValue.string(id).serialized()]))?.record.id == id)
            #expect(RecordKey.isValidID(id), "\(id)")
        }
    }

    /// Issue 11, finding 5: the reporter text had no limit (a 20 KB request stored 84 MB).
    @Test func reporterTextIsBoundedInBytes() {
        let combining = "a" + String(repeating: "\u{301}", count: 200)
        #expect(combining.count == 1)
        expectRefused(
            changeText(["reporter": JSONValue.string(combining).serialized()]),
            "reporter must be at most 400 bytes of UTF-8, not 401")
        let huge = String(repeating: "x", count: 1 << 20)
        expectRefused(
            changeText(["reporter": JSONValue.string(huge).serialized()]),
            "reporter must be at most 400 bytes of UTF-8, not \(1 << 20)")
        let full = String(repeating: "ⵜ", count: 133) + "x"
        #expect(full.utf8.count == 400)
        #expect(expectTaken(changeText(["reporter": JSONValue.string(full).serialized()]))?.reporter == full)
    }

    /// A store's log may hold what an older version took: read back as it is, and its
    /// `boundsProblem` names what the wire would refuse.
    @Test func storedChangesAreReadWithoutTheBounds() throws {
        let poison = changeText([
            "ms": "-9223372036854775808", "counter": "9007199254740992", "id": "\"S\u{E9}gou 1\"",
            "reporter": JSONValue.string(String(repeating: "r", count: 1000)).serialized(),
            "deps": #"{"fedcba9876543210fedcba9876543210":0,"00":9223372036854775807}"#,
        ])
        expectRefused(poison, "\(Self.counterRule) 9007199254740992")
        let stored = try poison.withUnsafeBufferPointer { try Change(storedJSONBytes: $0) }
        #expect(stored.tag.ms == Int64.min && stored.dot.counter == 9_007_199_254_740_992 && stored.record.id == "S\u{E9}gou 1")
        #expect(stored.deps.entries == [ReplicaID(hex: "00")!: UInt64(Int64.max)])
        #expect(stored == (try treeResult(poison, .stored).get()))
        #expect(stored.boundsProblem == "\(Self.msRule) -9223372036854775808")
        // Written back and read again, the same change.
        #expect(try stored.encodedJSON().withUnsafeBufferPointer { try Change(storedJSONBytes: $0) } == stored)
        // What no version ever stored is still refused.
        for bad in [
            changeText(["counter": "0"]), changeText(["replica": "\"\(Self.alice.uppercased())\""]), changeText(["id": "\"\""]),
        ] {
            #expect(throws: ChangeFormatError.self) { try bad.withUnsafeBufferPointer { try Change(storedJSONBytes: $0) } }
        }
        // A change within the bounds has no problem.
        #expect(expectTaken(changeText())?.boundsProblem == nil)
    }

    /// Issue 10: formatting a poison time trapped ("Illegal instruction") on every listing.
    @Test func dateTextNeverTraps() {
        #expect(DateText.rfc3339(epochMilliseconds: Int64.min) == "0001-01-01T00:00:00.000Z")
        #expect(DateText.rfc3339(epochMilliseconds: Int64.max) == "9999-12-31T23:59:59.999Z")
        #expect(DateText.rfc3339(epochMilliseconds: 253_402_300_799_999) == "9999-12-31T23:59:59.999Z")
        #expect(DateText.rfc3339(epochMilliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(DateText.rfc3339(epochMilliseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(DateText.rfc3339(epochMilliseconds: -62_135_596_800_000) == "0001-01-01T00:00:00.000Z")
        #expect(DateText.rfc3339(epochMilliseconds: 1_772_359_200_123) == "2026-03-01T10:00:00.123Z")
        for days in [Int.min, Int.max, Int.min + 1, -(1 << 40), 1 << 40] {
            let (y, m, d) = DateText.civil(daysSinceEpoch: days)
            #expect((1...12).contains(m) && (1...31).contains(d))
            #expect(days < 0 ? y < -1_000_000_000 : y > 1_000_000_000)
        }
        #expect(DateText.civil(daysSinceEpoch: 0) == (1970, 1, 1))
    }

    @Test func theHybridClockNeverTrapsNorLeavesTheRange() {
        var atEnd = HybridClock(last: HLCTag(ms: 253_402_300_799_999, seq: UInt32.max))
        #expect(atEnd.next(wallMs: Int64.max) == HLCTag(ms: 253_402_300_799_999, seq: UInt32.max))
        var full = HybridClock(last: HLCTag(ms: 1000, seq: UInt32.max))
        #expect(full.next(wallMs: 5) == HLCTag(ms: 1001, seq: 0))
        #expect(full.next(wallMs: 5) == HLCTag(ms: 1001, seq: 1))
        var early = HybridClock()
        #expect(early.next(wallMs: Int64.min) == HLCTag(ms: 0, seq: 1))
        var late = HybridClock()
        #expect(late.next(wallMs: Int64.max) == HLCTag(ms: 253_402_300_799_999, seq: 0))
        // A clock an older version persisted out of range comes back into it.
        var poisoned = HybridClock(last: HLCTag(ms: Int64.max, seq: 3))
        #expect(poisoned.next(wallMs: 10) == HLCTag(ms: 253_402_300_799_999, seq: 0))
        var negative = HybridClock(last: HLCTag(ms: Int64.min, seq: 3))
        #expect(negative.next(wallMs: 10) == HLCTag(ms: 10, seq: 0))
        // An offset from a hostile server cannot overflow the corrected wall clock.
        #expect(HybridClock.correctedWall(systemMs: 1_772_359_200_000, offsetMs: Int64.max) == Int64.max)
        #expect(HybridClock.correctedWall(systemMs: -5, offsetMs: Int64.min) == Int64.min)
        #expect(HybridClock.correctedWall(systemMs: 1000, offsetMs: -200) == 800)
    }
}

/// A bundle's summary is outside bytes too.
@Suite struct SyncSummaryBoundsTests {
    private func summary(_ text: String) throws(ChangeFormatError) -> SyncSummary {
        let json: JSONValue
        do { json = try JSONParser.parse(text) } catch { throw ChangeFormatError("\(error)") }
        return try SyncSummary(json: json)
    }

    @Test func countersAndHexAreBounded() throws {
        let taken = try summary(#"{"0a": {"contiguous": 9007199254740990, "extra": [9007199254740991]}}"#)
        #expect(taken.contains(Dot(replica: ReplicaID(hex: "0a")!, counter: 9_007_199_254_740_991)))
        let refused: [(String, String)] = [
            (
                #"{"0a": {"contiguous": 9007199254740992}}"#,
                "summary[0a].contiguous must be a whole number from 0 to 9007199254740991"
            ),
            (#"{"0a": {"contiguous": -1}}"#, "summary[0a].contiguous must be a whole number from 0"),
            (#"{"0a": {"contiguous": 1, "extra": [9007199254740992]}}"#, "summary[0a].extra must hold counters above contiguous"),
            (#"{"0A": {"contiguous": 1}}"#, "summary key \"0A\" is not a replica id in lowercase hex"),
        ]
        for (text, message) in refused {
            #expect(throws: ChangeFormatError.self) { try summary(text) }
            do {
                _ = try summary(text)
            } catch {
                #expect(error.message.hasPrefix(message), "\(error.message)")
            }
        }
    }
}
