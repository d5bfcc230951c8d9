import Foundation
import OutpostCore
import Testing

@testable import OutpostServer
@testable import OutpostStore

/// The query indexes held in memory (`QueryMirror`) answer what a scan of every incident
/// answers after every kind of write: applies (taken in by the changes they log), and changes
/// removed with their records rebuilt (read again in full).
@Suite struct QueryMirrorTests {
    /// Random queries answered from the mirror, each compared with the scan.
    static func expectScanAnswers(_ fixture: ServerFixture, ids: [String], seed: UInt64, queries: Int = 60) async throws {
        var random = SplitMix64(seed: seed)
        for n in 0..<queries {
            var query = QueryIndexTests.randomQuery(&random, ids: ids)
            // Every third one as an export asks (every match): sorted outright, not kept in order.
            if n % 3 == 0 { query.limit = Int(Int32.max) }
            let answered = try await fixture.backend.incidents(matching: query)
            let expected = try QueryIndexTests.scanned(query, fixture: fixture)
            #expect(answered.incidents == expected.incidents, "\(query)")
            #expect(answered.total == expected.total, "\(query)")
            #expect(answered.totalIsExact, "\(query)")
            // The overview: every match's point and date, and the labels (id, title) asked for.
            var every = query
            (every.limit, every.offset, every.after) = (100_000, 0, nil)
            let all = try QueryIndexTests.scanned(every, fixture: fixture).incidents
            let needle = (query.text ?? "").lowercased()
            let overview = try #require(
                try fixture.backend.reader.indexedOverview(
                    try fixture.backend.filter(for: query, reader: fixture.backend.reader),
                    textMatches: { IncidentQuery.holds($0, needle: needle) }, wanted: { $0.map(\.rowid) }))
            #expect(
                overview.matches.map { QueryIndexTests.entry($0.lat, $0.lon, $0.occurredMs) }.sorted()
                    == all.map { QueryIndexTests.entry($0.fields["lat"]?.doubleValue, $0.fields["lon"]?.doubleValue, $0) }
                    .sorted(), "\(query)")
            #expect(
                overview.labels.values.map(QueryIndexTests.label).sorted() == all.map(QueryIndexTests.label).sorted(),
                "\(query)")
        }
    }

    /// The one answer to a text query from the mirror (its ids), and the scan's.
    static func answers(_ text: String, _ fixture: ServerFixture) async throws -> ([String], [String]) {
        var query = IncidentQuery()
        query.text = text
        query.includeDeleted = true
        let answered = try await fixture.backend.incidents(matching: query).incidents.map(\.id)
        return (answered, try QueryIndexTests.scanned(query, fixture: fixture).incidents.map(\.id))
    }

    @Test(arguments: [UInt64(11), 12, 13])
    func theMirrorFollowsEveryApply(seed: UInt64) async throws {
        let (fixture, devices, ids) = try await QueryIndexTests.world(seed: seed, incidents: 120)
        let reader = fixture.backend.reader
        try await Self.expectScanAnswers(fixture, ids: ids, seed: seed)
        let mirror = try #require(reader.queryMirror)
        // Replaced text is dropped from the buffer as soon as it outweighs the rest.
        mirror.text.compactionFloor = 0
        let buffered = mirror.text.bytes.count
        // New incidents, edits that race into conflicts, deletes and restores, by devices and by
        // the server; half the text indexed between rounds.
        var random = SplitMix64(seed: seed &* 31)
        var counters: [UInt64] = [10_000, 10_000, 10_000]
        var allIDs = ids
        for round in 0..<4 {
            var changes: [Change] = []
            for n in 0..<15 {
                let d = Int(random.next() % 3)
                counters[d] += 1
                let fresh = random.next() % 3 == 0
                let id = fresh ? "m-\(seed)-\(round)-\(n)" : allIDs[Int(random.next() % UInt64(allIDs.count))]
                if fresh { allIDs.append(id) }
                var writes: [String: JSONValue] = [
                    "title": .string(QueryIndexTests.words[Int(random.next() % UInt64(QueryIndexTests.words.count))]),
                    "status": .string(["verified", "disputed", "rejected"][Int(random.next() % 3)]),
                ]
                if random.next() % 2 == 0 { writes["lat"] = .double(Double(random.next() % 40)) }
                if random.next() % 2 == 0 { writes["lon"] = .double(Double(random.next() % 40)) }
                if random.next() % 5 == 0 { writes[Change.deletedField] = .bool(true) }
                changes.append(devices[d].change(counters[d], id: id, writes: writes, ms: 20_000 + Int64(round * 100 + n)))
            }
            try fixture.store.applyRemote(changes, trust: .server)
            let id = allIDs[Int(random.next() % UInt64(allIDs.count))]
            if try fixture.store.incident(id: id)?.deleted == false {
                try fixture.store.update(id: id, fields: ["narrative": "Un convoi attaqué près de Ménaka"])
            }
            if round == 2 { try fixture.store.drainQueryTextIndex(limit: 100_000) }
            try await Self.expectScanAnswers(fixture, ids: allIDs, seed: seed &+ UInt64(round))
            // Taken in by the changes since the last query: the same mirror, never read again.
            #expect(reader.queryMirror === mirror)
        }
        let (answered, expected) = try await Self.answers("convoi attaqué", fixture)
        #expect(!expected.isEmpty && answered == expected)
        // Every incident's text replaced twice: the buffer was written again on the way, so it
        // holds at most as much replaced text as live text.
        for pass in 0..<2 {
            for id in allIDs where try fixture.store.incident(id: id)?.deleted == false {
                try fixture.store.update(id: id, fields: ["narrative": .string("Passage \(pass) à Ménaka")])
            }
            try await Self.expectScanAnswers(fixture, ids: allIDs, seed: seed &+ 100 &+ UInt64(pass), queries: 20)
        }
        #expect(reader.queryMirror === mirror)
        let live = mirror.text.ranges.joined().reduce(0) { $0 + Int(mirror.text.lengths[$1]) + 1 }
        #expect(mirror.text.bytes.count > buffered / 2 && mirror.text.bytes.count <= 2 * live)
    }

    @Test func theTextBufferKeepsEveryLiveFieldWhenWrittenAgain() {
        var text = MirrorText()
        text.compactionFloor = 0
        func fields(_ values: [String]) -> [QueryMirror.Field] {
            values.map { value in
                let (indexed, raw, ascii) = QueryIndexWriter.searchText(value)
                return QueryMirror.Field(bytes: Array(indexed.utf8), ascii: ascii, raw: raw)
            }
        }
        var expected: [[String]] = []
        for n in 0..<50 {
            let values = ["Titre \(n)", "e\u{301}cole \(n)", "الفاشر \(n)"]
            text.set(slot: n, fields: fields(values))
            expected.append(values.map { $0.lowercased() })
        }
        // Every incident's fields replaced, then half again: the buffer is written again.
        for round in 0..<2 {
            for n in stride(from: 0, to: 50, by: round + 1) {
                let values = ["Ame\u{301}lie \(round) \(n)", "KIDAL"]
                text.set(slot: n, fields: fields(values))
                expected[n] = values.map { $0.lowercased() }
            }
        }
        let live = text.ranges.joined().reduce(0) { $0 + Int(text.lengths[$1]) + 1 }
        #expect(text.bytes.count <= 2 * live)
        for n in 0..<50 {
            // The value as written (lowercased, before NFC) for the text rule; the NFC bytes and
            // whether they are ASCII for the byte search; each field owned by its incident.
            // (Compared byte for byte: Swift's == takes canonically equivalent text as equal.)
            #expect(text.ranges[n].map { Array(text.value($0).utf8) } == expected[n].map { Array($0.utf8) })
            for (field, value) in zip(text.ranges[n], expected[n]) {
                let (indexed, _, ascii) = QueryIndexWriter.searchText(value)
                let start = text.starts[field]
                #expect(Array(text.bytes[start..<(start + Int(text.lengths[field]))]) == Array(indexed.utf8))
                #expect(text.bytes[start + Int(text.lengths[field])] == 0)
                #expect(text.ascii[field] == ascii && text.owners[field] == Int32(n))
            }
        }
    }

    @Test func teamsFollowMovesAndNewAccessRows() async throws {
        let (fixture, devices, ids) = try await QueryIndexTests.world(seed: 31, incidents: 80)
        let reader = fixture.backend.reader
        let keys = Set(ids.map { RecordKey(id: $0) })
        try fixture.store.updateServerAccess(keys, serverReporter: "server")
        func expectTeams() async throws {
            for team in ["default", "north"] {
                var query = IncidentQuery()
                (query.teams, query.includeDeleted, query.limit) = ([team], true, 1_000)
                let answered = try await fixture.backend.incidents(matching: query)
                let expected = try QueryIndexTests.scanned(query, fixture: fixture)
                #expect(answered.incidents.map(\.id) == expected.incidents.map(\.id), "\(team)")
                #expect(answered.total == expected.total, "\(team)")
            }
        }
        try await expectTeams()
        let mirror = try #require(reader.queryMirror)
        var query = IncidentQuery()
        (query.teams, query.includeDeleted, query.limit) = (["default"], true, 1_000)
        #expect(try await fixture.backend.incidents(matching: query).total > 40)
        // Moved to another team (a greater access position).
        for id in ids.prefix(10) { _ = try fixture.store.moveServerRecord(RecordKey(id: id), to: "north") }
        try await expectTeams()
        // A new incident is in no team until its access row is made (after its apply, at
        // position 0), then in its creator's.
        try fixture.store.applyRemote(
            [devices[0].change(90_000, id: "late-row", writes: ["title": "Kidal"], ms: 40_000)], trust: .server)
        try await expectTeams()
        try fixture.store.updateServerAccess([RecordKey(id: "late-row")], serverReporter: "server")
        try await expectTeams()
        #expect(try await fixture.backend.incidents(matching: query).incidents.contains { $0.id == "late-row" })
        #expect(reader.queryMirror === mirror)
        try await Self.expectScanAnswers(fixture, ids: ids, seed: 31, queries: 100)
    }

    @Test func changesRemovedAndRebuiltAreReadAgain() async throws {
        let (fixture, devices, ids) = try await QueryIndexTests.world(seed: 21, incidents: 60)
        let reader = fixture.backend.reader
        let device = devices[1]
        try fixture.store.applyRemote(
            [device.change(50_000, id: "gone-edit", writes: ["title": "Marché de Gao"], ms: 30_000)], trust: .server)
        try fixture.store.applyRemote(
            [device.change(50_001, id: "gone-edit", writes: ["title": "Zarzis"], ms: 30_001)], trust: .server)
        var (answered, expected) = try await Self.answers("zarzis", fixture)
        #expect(answered == ["gone-edit"] && expected == ["gone-edit"])
        let mirror = try #require(reader.queryMirror)
        // The last change goes (as a revoked key's would): its record is rebuilt from the first,
        // applied again at a `seq` no higher than the mirror's, and the row count stays.
        let top = try fixture.store.read { try fixture.store.db.cached("SELECT max(seq) FROM changes").first { $0.int(0) } }
        try fixture.store.write { try fixture.store.dropChanges([top!]) }
        let after = try fixture.store.read { try fixture.store.db.cached("SELECT max(seq) FROM changes").first { $0.int(0) } }
        #expect(after! <= top!)
        (answered, expected) = try await Self.answers("zarzis", fixture)
        #expect(expected.isEmpty && answered.isEmpty)
        (answered, expected) = try await Self.answers("marché de gao", fixture)
        #expect(expected.contains("gone-edit") && answered == expected)
        #expect(reader.queryMirror !== mirror)
        try await Self.expectScanAnswers(fixture, ids: ids, seed: 21)
        // A `records` row deleted (its index row goes with it, by trigger) is a mirror read again
        // too, whatever the change log's top.
        let before = try #require(reader.queryMirror)
        try fixture.store.write {
            try fixture.store.db.execute("DELETE FROM records WHERE collection = 'incidents' AND id = 'gone-edit'")
        }
        (answered, expected) = try await Self.answers("marché de gao", fixture)
        #expect(!expected.contains("gone-edit") && answered == expected)
        var everyOne = IncidentQuery()
        everyOne.includeDeleted = true
        #expect(
            try await fixture.backend.incidents(matching: everyOne).total
                == QueryIndexTests.scanned(everyOne, fixture: fixture).total)
        #expect(reader.queryMirror !== before)
    }
}
