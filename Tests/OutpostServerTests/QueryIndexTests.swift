import Foundation
import OutpostCore
import Testing

@testable import OutpostServer
@testable import OutpostStore

/// The server's query indexes (`Store+QueryIndex`) answer exactly what a scan of every incident
/// answers, stay in step with every apply (and with an apply that fails), and never exist in a
/// device store.
@Suite struct QueryIndexTests {
    /// Texts the incidents are made of: accents (precomposed and decomposed), scripts without
    /// case, case mappings that change length, FTS5 syntax, CR LF, a Kelvin sign.
    static let words = [
        "Marché de Gao", "réfugiés", "TUÉ", "Tombouctou", "e\u{301}cole", "école", "الفاشر", "gunfire at dawn", "Kidal",
        "Ménaka", "\"quoted\" AND NOT", "x\r\ny", "Straße", "İstanbul", "\u{212A}elvin", "convoy", "market", "MARKET",
        "ab", "a;b", "a\u{037E}b", "Ǆemal",
    ]

    /// A store of a few hundred random incidents by three devices (two of one reporter) and the
    /// server itself: edits, races that become conflicts, deletes, restores, deletes kept alive.
    static func world(seed: UInt64, incidents: Int = 240) async throws -> (ServerFixture, [TestDevice], [String]) {
        let fixture = try ServerFixture()
        let devices = [try fixture.device("amadou"), try fixture.device("fatou"), try fixture.device("amadou")]
        var random = SplitMix64(seed: seed)
        func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
        func chance(_ percent: UInt64) -> Bool { random.next() % 100 < percent }
        func text() -> String { (0..<(1 + Int(random.next() % 3))).map { _ in pick(words) }.joined(separator: " ") }
        func fields() -> [String: JSONValue] {
            var out: [String: JSONValue] = ["title": .string(text())]
            if chance(60) { out["narrative"] = .string(text() + " " + text()) }
            if chance(80) { out["event_type"] = .string(pick(IncidentSchema.eventTypes)) }
            if chance(80) { out["status"] = .string(pick(["draft", "submitted", "verified", "disputed"])) }
            if chance(85) {
                out["lat"] = .double(pick([0, 10, -10, 45.5, -89.9, 16.27]) + Double(random.next() % 100) / 100)
                if chance(10) { out["lat"] = 16 }
                let lon = pick([-179.5, 179.5, 10, -10, 0, 180, -180])
                out["lon"] = .double(lon - (lon > 0 ? 1 : -1) * (chance(50) ? 0 : Double(random.next() % 50) / 100))
            }
            if chance(70) {
                let day = 1 + random.next() % 28
                out["occurred_at"] = .string(
                    chance(50)
                        ? "202\(random.next() % 5)-0\(1 + random.next() % 9)-\(day < 10 ? "0" : "")\(day)"
                        : "2023-06-15T\(10 + random.next() % 10):00:00Z")
            }
            for name in ["place_name", "perpetrator", "admin1"] where chance(40) { out[name] = .string(text()) }
            return out
        }
        var counters = [UInt64](repeating: 0, count: devices.count)
        var ids: [String] = []
        var pending: [Change] = []
        func flush() throws {
            if !pending.isEmpty { try fixture.store.applyRemote(pending, trust: .server) }
            pending = []
        }
        func version(_ id: String) throws -> [ReplicaID: UInt64] {
            Dictionary(
                uniqueKeysWithValues: (try fixture.store.recordState(id: id)?.version.entries ?? [:]).map { ($0.key, $0.value) })
        }
        for n in 0..<incidents {
            let id = (chance(50) ? "Z" : "a") + "-\(random.next() % 1000)-\(n)"
            ids.append(id)
            if chance(25) {
                try flush()
                _ = try fixture.store.create(id: id, fields: fields(), wallMs: 5_000 + Int64(random.next() % 50))
            } else {
                let d = Int(random.next() % UInt64(devices.count))
                counters[d] += 1
                // Equal creation times now and then, so the id decides the order.
                pending.append(devices[d].change(counters[d], id: id, writes: fields(), ms: 5_000 + Int64(random.next() % 50)))
            }
            if chance(20) { try flush() }
        }
        try flush()
        for _ in 0..<(incidents / 2) {
            let id = pick(ids)
            let deps = try version(id)
            let action = random.next() % 10
            if action < 4 {
                // Two devices write the same record having seen the same state: a conflict when
                // they write the same field.
                let writers = chance(50) ? [0, 1] : [Int(random.next() % 3)]
                let written = fields()
                for d in writers {
                    counters[d] += 1
                    var writes: [String: JSONValue] = [:]
                    if d == writers[0] {
                        writes = written.filter { _ in chance(50) }
                    } else {
                        writes = ["title": .string(text())]
                        if chance(50) { writes["status"] = "rejected" }
                    }
                    if writes.isEmpty { writes = ["title": .string(text())] }
                    pending.append(
                        devices[d].change(counters[d], id: id, deps: deps, writes: writes, ms: 9_000 + Int64(counters[d])))
                }
                try flush()
            } else if action < 6 {
                guard (try fixture.store.incident(id: id))?.deleted == false else { continue }
                try fixture.store.update(
                    id: id, fields: fields().filter { _ in chance(40) }.merging(["title": .string(text())]) { a, _ in a })
            } else if action < 8 {
                if (try fixture.store.incident(id: id))?.deleted == true {
                    try fixture.store.restore(id: id)
                } else {
                    try fixture.store.delete(id: id)
                }
            } else {
                // A delete with an edit its author had not seen: kept alive (a conflict).
                counters[2] += 1
                pending.append(devices[2].change(counters[2], id: id, deps: deps, writes: [Change.deletedField: .bool(true)]))
                counters[1] += 1
                pending.append(devices[1].change(counters[1], id: id, deps: deps, writes: ["place_name": .string(text())]))
                try flush()
            }
        }
        return (fixture, devices, ids)
    }

    /// A random query over the world's values.
    static func randomQuery(_ random: inout SplitMix64, ids: [String]) -> IncidentQuery {
        func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
        func chance(_ percent: UInt64) -> Bool { random.next() % 100 < percent }
        var query = IncidentQuery()
        query.limit = 1 + Int(random.next() % 25)
        if chance(25) { query.offset = Int(random.next() % 30) }
        if chance(30) { query.includeDeleted = true }
        if chance(15) { query.updatedAfterMs = 5_000 + Int64(random.next() % 5_000) }
        if chance(30) {
            let lon = [-180.0, -179.5, -20, 0, 10, 170, 179.9, 180]
            let lat = [-90.0, -10, 0, 10, 16.5, 45.5, 90]
            let a = pick(lat), b = pick(lat)
            query.bbox = BoundingBox(minLon: pick(lon), minLat: min(a, b), maxLon: pick(lon), maxLat: max(a, b))
        }
        if chance(30) { query.eventTypes = Set((0..<(1 + random.next() % 3)).map { _ in pick(IncidentSchema.eventTypes) }) }
        if chance(30) {
            query.statuses = Set((0..<(1 + random.next() % 2)).map { _ in pick(["draft", "verified", "rejected", "submitted"]) })
        }
        if chance(45) {
            let word = pick(words)
            let chars = Array(word)
            let start = Int(random.next() % UInt64(chars.count))
            let length = 1 + Int(random.next() % UInt64(chars.count - start))
            var needle = String(chars[start..<(start + length)])
            if chance(30) { needle = needle.uppercased() }
            if chance(10) { needle = needle.decomposedStringWithCanonicalMapping }
            if chance(10) {
                needle = pick([
                    "é", "ÉCOLE", "ǆ", "kelvin", "ss", "i\u{307}", "\"", "gunfire at dawn marché", "\r\n", "\u{301}co",
                    "ca\u{301}",
                ])
            }
            query.text = needle
        }
        if chance(20) {
            query.occurredFromMs = pick([
                DateText.epochMilliseconds("2021-03-01")!, DateText.epochMilliseconds("2023-06-15T12:00:00Z")!,
            ])
        }
        if chance(20) {
            query.occurredToMs = pick([
                DateText.epochMilliseconds("2022-05-10")! + 86_399_999, DateText.epochMilliseconds("2023-06-15T15:00:00Z")!,
            ])
        }
        if chance(20) { query.hasConflicts = chance(50) }
        if chance(20) { query.reporter = pick(["amadou", "fatou", "server", "nobody"]) }
        if chance(10) { query.teams = chance(70) ? ["default"] : ["north"] }
        return query
    }

    /// What the scan of every incident answers (the code path before the indexes), with the
    /// creator's enrolled reporter for `reporter` and the record's access row for its team (a
    /// record without one is in no team: the server never shows it by team).
    static func scanned(_ query: IncidentQuery, fixture: ServerFixture) throws -> IncidentPage {
        var matches: [IncidentRecord] = []
        let names = try fixture.backend.enrolledReporters(of: try fixture.store.knownReplicas())
        for incident in try fixture.store.incidents(includeDeleted: true) where query.matches(incident) {
            if let reporter = query.reporter {
                guard let creator = try fixture.store.history(id: incident.id).first?.change.dot.replica,
                    names[creator] == reporter
                else { continue }
            }
            if let teams = query.teams {
                guard let team = try fixture.store.serverAccess(of: RecordKey(id: incident.id))?.team, teams.contains(team)
                else { continue }
            }
            matches.append(incident)
        }
        var rest = matches
        if let after = query.after {
            rest = rest.filter { after.precedes($0) }
        } else {
            rest = Array(rest.dropFirst(query.offset))
        }
        return IncidentPage(incidents: Array(rest.prefix(query.limit)), total: matches.count, hasMore: rest.count > query.limit)
    }

    @Test(arguments: [UInt64(1), 2, 3, 4, 5])
    func indexedQueriesAnswerWhatAScanAnswers(seed: UInt64) async throws {
        let (fixture, _, ids) = try await Self.world(seed: seed)
        #expect(try fixture.store.hasQueryIndexes())
        // Half the queries while the applied text waits to be indexed (decided by the records'
        // state), half once it is indexed.
        #expect(try fixture.store.pendingQueryText() > 0)
        var random = SplitMix64(seed: seed &* 7919)
        var compared = 0
        var nonEmpty = 0
        for n in 0..<400 {
            if n == 200 {
                try fixture.store.drainQueryTextIndex(limit: 100_000)
                #expect(try fixture.store.pendingQueryText() == 0)
            }
            var query = Self.randomQuery(&random, ids: ids)
            if random.next() % 4 == 0 {
                let all = try Self.scanned(
                    {
                        var q = query; q.limit = 1000; q.offset = 0; return q
                    }(), fixture: fixture
                ).incidents
                if let some = all.randomElement(using: &random) {
                    query.after = IncidentCursor(createdMs: some.createdMs, id: some.id)
                }
            }
            let indexed = try await fixture.backend.incidents(matching: query)
            let expected = try Self.scanned(query, fixture: fixture)
            #expect(indexed.incidents.map(\.id) == expected.incidents.map(\.id), "\(query)")
            #expect(indexed.incidents == expected.incidents, "\(query)")
            #expect(indexed.total == expected.total, "\(query)")
            #expect(indexed.next == expected.next, "\(query)")
            #expect(indexed.totalIsExact)
            compared += 1
            if expected.total > 0 { nonEmpty += 1 }
            // The other plans: text confirmed row by row with a small count cap, boxes tested on
            // each row.
            var filter = try fixture.backend.filter(for: query, reader: fixture.backend.reader)
            filter.textNarrowingLimit = 1
            filter.boxLookupLimit = 1
            filter.textCountCap = 1 + Int(random.next() % 40)
            filter.readsMirror = false
            let other = try fixture.backend.indexedIncidents(query, filter: filter, reader: fixture.backend.reader)!
            #expect(other.incidents == expected.incidents, "\(query)")
            #expect(other.next == expected.next, "\(query)")
            if other.totalIsExact {
                #expect(other.total == expected.total, "\(query)")
            } else {
                #expect(other.total == filter.textCountCap && expected.total > filter.textCountCap, "\(query)")
            }
            // The incidents page's overview: every match (common text looked up in the trigram
            // index once), by each plan, is every match of the scan.
            var every = query
            (every.limit, every.offset, every.after) = (100_000, 0, nil)
            let all = try Self.scanned(every, fixture: fixture).incidents
            let wantedEntries = all.map { Self.entry($0.fields["lat"]?.doubleValue, $0.fields["lon"]?.doubleValue, $0) }.sorted()
            let needle = (query.text ?? "").lowercased()
            let mirrored = try fixture.backend.filter(for: query, reader: fixture.backend.reader)
            var tables = mirrored
            tables.readsMirror = false
            for plan in [mirrored, tables, filter] {
                let overview = try #require(
                    try fixture.backend.reader.indexedOverview(
                        plan, textMatches: { IncidentQuery.holds($0, needle: needle) }, wanted: { $0.map(\.rowid) }))
                #expect(overview.matches.count == expected.total, "\(query)")
                #expect(overview.labels.values.map(Self.label).sorted() == all.map(Self.label).sorted(), "\(query)")
                #expect(overview.matches.map { Self.entry($0.lat, $0.lon, $0.occurredMs) }.sorted() == wantedEntries, "\(query)")
            }
        }
        // The property is not vacuous: most queries match something.
        #expect(compared == 400 && nonEmpty > 150)
    }

    /// An incident's map label (id and title) as text.
    static func label(_ label: IncidentLabel) -> String { label.id + "|" + (label.title ?? "-") }

    /// `label` of an incident.
    static func label(_ incident: IncidentRecord) -> String {
        label(IncidentLabel(id: incident.id, title: incident.fields["title"]?.stringValue))
    }

    /// A match as the overview draws it (point and `occurred_at` in ms), comparable as text.
    static func entry(_ lat: Double?, _ lon: Double?, _ occurredMs: Int64?) -> String {
        "\(lat.map { "\($0)" } ?? "-") \(lon.map { "\($0)" } ?? "-") \(occurredMs.map { "\($0)" } ?? "-")"
    }

    /// `entry` of an incident.
    static func entry(_ lat: Double?, _ lon: Double?, _ incident: IncidentRecord) -> String {
        entry(lat, lon, incident.fields["occurred_at"]?.stringValue.flatMap(DateText.epochMilliseconds))
    }

    /// Every index entry, named by incident id (not by rowid), and whether each index row sits at
    /// its record's rowid.
    static func indexSnapshot(_ store: Store) throws -> [String] {
        try store.read {
            var out: [String] = []
            let db = store.db
            for table in ["query_incidents", "query_geo", "query_text_rows", "query_text_pending"] {
                out.append(table + " " + String(try db.prepare("SELECT count(*) FROM \(table)").first { $0.int(0) } ?? -1))
            }
            out.append(
                "misplaced "
                    + String(
                        try db.prepare(
                            "SELECT count(*) FROM query_incidents q LEFT JOIN records r ON r.rowid = q.rowid WHERE r.id IS NOT q.id"
                        ).first { $0.int(0) } ?? -1))
            try db.prepare(
                """
                SELECT id, created_ms, updated_ms, updated_seq, event_type, status, deleted, conflict, lat, lon, occurred_ms, creator
                FROM query_incidents ORDER BY id
                """
            ).forEach { row in
                out.append((0..<12).map { row.isNull($0) ? "-" : (row.text($0) ?? "") }.joined(separator: " "))
            }
            try db.prepare(
                "SELECT q.id, g.min_lon, g.max_lon, g.min_lat, g.max_lat FROM query_geo g JOIN query_incidents q ON q.rowid = g.id ORDER BY q.id"
            ).forEach { row in out.append("geo " + (0..<5).map { row.text($0) ?? "" }.joined(separator: " ")) }
            try db.prepare(
                "SELECT q.id, t.rowid & 15, t.text FROM query_text_rows t JOIN query_incidents q ON q.rowid = t.rowid >> 4 ORDER BY q.id, 2"
            ).forEach { row in out.append("text \(row.text(0) ?? "") \(row.int(1)) \(row.text(2) ?? "")") }
            return out
        }
    }

    /// The index entries built from scratch from `records`: the store's index tables dropped
    /// and enabled again (a copy of the store would not do: opening a copied file starts a
    /// restored store's work).
    static func rebuiltSnapshot(_ store: Store) throws -> [String] {
        try store.disableQueryIndexes()
        try store.enableQueryIndexes()
        return try indexSnapshot(store)
    }

    /// Expects two snapshots equal, naming the first lines that differ.
    static func expectSame(_ a: [String], _ b: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        let onlyA = a.filter { !b.contains($0) }.prefix(4)
        let onlyB = b.filter { !a.contains($0) }.prefix(4)
        #expect(a == b, "kept only: \(onlyA); rebuilt only: \(onlyB)", sourceLocation: sourceLocation)
    }

    @Test func indexesEqualARebuildAfterEveryKindOfWrite() async throws {
        let (fixture, _, _) = try await Self.world(seed: 11, incidents: 120)
        try fixture.store.drainQueryTextIndex(limit: 100_000)
        let kept = try Self.indexSnapshot(fixture.store)
        #expect(kept.count > 240)
        Self.expectSame(kept, try Self.rebuiltSnapshot(fixture.store))
        // The FTS index agrees with its content table.
        try fixture.store.read { try fixture.store.db.execute("INSERT INTO query_text (query_text) VALUES ('integrity-check')") }
    }

    @Test func anApplyThatFailsLeavesIndexesAndRecordsAsTheyWere() async throws {
        let (fixture, devices, ids) = try await Self.world(seed: 5, incidents: 60)
        try fixture.store.drainQueryTextIndex(limit: 100_000)
        let before = try Self.indexSnapshot(fixture.store)
        let records = try fixture.store.incidents(includeDeleted: true)
        // A batch whose record writes fail after others were written and indexed (a record the
        // table refuses, written last): the whole transaction rolls back, index writes too.
        try fixture.store.write {
            try fixture.store.db.execute(
                "CREATE TRIGGER test_refuse BEFORE INSERT ON records WHEN new.id = 'zz-refused' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        }
        let device = devices[1]
        let good = device.change(500, id: "fresh-1", writes: ["title": "Brand new market fire", "status": "verified"])
        let edit = device.change(501, id: ids[0], writes: ["title": "edited away", "lat": 1.0, "lon": 1.0])
        let refused = device.change(502, id: "zz-refused", writes: ["title": "another"])
        #expect(throws: StoreError.self) { try fixture.store.applyRemote([good, edit, refused], trust: .server) }
        #expect(try Self.indexSnapshot(fixture.store) == before)
        #expect(try fixture.store.incidents(includeDeleted: true) == records)
        var query = IncidentQuery()
        query.text = "brand new"
        #expect(try await fixture.backend.incidents(matching: query).total == 0)
        // The same changes without the refused one are indexed.
        try fixture.store.write { try fixture.store.db.execute("DROP TRIGGER test_refuse") }
        try fixture.store.applyRemote([good, edit], trust: .server)
        #expect(try await fixture.backend.incidents(matching: query).incidents.map(\.id) == ["fresh-1"])
        try fixture.store.drainQueryTextIndex(limit: 100_000)
        Self.expectSame(try Self.indexSnapshot(fixture.store), try Self.rebuiltSnapshot(fixture.store))
    }

    @Test func enablingRepairsIndexRowsAWriterWithoutThemLeftBehind() async throws {
        let (fixture, _, ids) = try await Self.world(seed: 8, incidents: 50)
        try fixture.store.drainQueryTextIndex(limit: 100_000)
        let good = try Self.indexSnapshot(fixture.store)
        // As if written by an older server: a row missing, a row stale, an orphan.
        try fixture.store.write {
            let rowid = try fixture.store.db.prepare("SELECT rowid FROM records WHERE id = ?").bind(.text(ids[3])).first {
                $0.int(0)
            }!
            try fixture.store.db.execute("DELETE FROM query_incidents WHERE rowid = \(rowid)")
            try fixture.store.db.execute(
                "UPDATE query_incidents SET updated_seq = -1, status = 'bogus' WHERE rowid = (SELECT min(rowid) FROM query_incidents)"
            )
            try fixture.store.db.execute(
                "INSERT INTO query_incidents (rowid, id, created_ms, updated_ms, updated_seq, deleted, conflict) VALUES (999999, 'gone', 1, 1, 1, 0, 0)"
            )
        }
        #expect(try Self.indexSnapshot(fixture.store) != good)
        try fixture.store.enableQueryIndexes()
        #expect(try Self.indexSnapshot(fixture.store) == good)
    }

    @Test func aDeletedRecordRowTakesItsIndexEntriesAlong() async throws {
        let (fixture, _, ids) = try await Self.world(seed: 9, incidents: 40)
        try fixture.store.drainQueryTextIndex(limit: 100_000)
        try fixture.store.write {
            try fixture.store.db.prepare("DELETE FROM records WHERE id = ?").bind(.text(ids[7])).run()
        }
        let snapshot = try Self.indexSnapshot(fixture.store)
        #expect(!snapshot.contains { $0.contains(ids[7]) })
        #expect(snapshot.contains { $0.contains(ids[8]) })
        Self.expectSame(snapshot, try Self.rebuiltSnapshot(fixture.store))
    }

    /// The names of the query index objects in a store's schema.
    static func indexObjects(_ path: String) throws -> [String] {
        let db = try Database(path: path, create: false)
        var names: [String] = []
        try db.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'query%'").forEach { names.append($0.text(0) ?? "") }
        return names
    }

    @Test func aDeviceStoreHasNoQueryIndexes() throws {
        let dir = NSTemporaryDirectory() + "outpost-query-device-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir, reporter: "amadou")
        let id = try store.create(fields: ["title": "Marché brûlé", "status": "submitted", "lat": 1, "lon": 2]).record.id
        try store.update(id: id, fields: ["narrative": "witnesses"])
        try store.delete(id: id)
        #expect(try store.hasQueryIndexes() == false)
        #expect(try Self.indexObjects(Store.databasePath(in: dir)).isEmpty)
    }

    @Test func anEncryptedStoreNeverHoldsPlaintextIndexes() throws {
        let dir = NSTemporaryDirectory() + "outpost-query-sealed-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir, reporter: "amadou", cipher: try StoreCipher(key: StoreCipher.randomKey()))
        #expect(throws: StoreError.self) { try store.enableQueryIndexes() }
        #expect(try Self.indexObjects(Store.databasePath(in: dir)).isEmpty)
        // Even with the tables made by hand, no apply writes a field into them.
        try store.write { try store.db.execute(Store.queryIndexSchema) }
        let canary = "QUERY_CANARY_" + UUID().uuidString
        let fields: [String: JSONValue] = ["title": .string(canary), "lat": 1, "lon": 2]
        let id = try store.create(fields: fields).record.id
        try store.update(id: id, fields: ["narrative": .string(canary)])
        let rows = try store.read {
            try ["query_incidents", "query_text_rows", "query_geo", "query_text_pending"].map { table in
                try store.db.prepare("SELECT count(*) FROM \(table)").first { $0.int(0) } ?? -1
            }
        }
        #expect(rows == [0, 0, 0, 0])
        #expect(try store.incident(id: id)?.fields["title"] == JSONValue.string(canary))
    }

    @Test func theTextRuleStaysTheSubstringRule() throws {
        // Exact trigram matches only for ASCII needles without CR or LF; narrowing by ASCII runs.
        #expect(IndexedQueryPlan.trigramQuery(for: "Market")! == ("\"market\"", true))
        #expect(IndexedQueryPlan.trigramQuery(for: "Re\u{301}fugiés")! == ("\"réfugiés\"", false))
        #expect(IndexedQueryPlan.trigramQuery(for: "x\r\ny")! == ("\"x\r\ny\"", false))
        #expect(IndexedQueryPlan.trigramQuery(for: "a \"b")! == ("\"a \"\"b\"", true))
        #expect(IndexedQueryPlan.trigramQuery(for: "tué")! == ("\"tué\"", false))
        #expect(IndexedQueryPlan.trigramQuery(for: "ué") == nil)
        #expect(IndexedQueryPlan.trigramQuery(for: "ab") == nil)
        #expect(IncidentFilter.searchedFields == IncidentQuery.searchedFields)
        // An ASCII needle met between ASCII bytes (or ends) in text beyond ASCII needs no
        // confirming; met next to other bytes, it does.
        func between(_ text: String, _ needle: String) -> Bool {
            Array(text.utf8).withUnsafeBufferPointer { IndexedQueryPlan.bytes($0, containBetweenASCII: Array(needle.utf8)) }
        }
        #expect(between("café gunfire", "gunfire") && between("gunfire", "gunfire") && between("é;x gunfire, é", "gunfire"))
        #expect(!between("ca\u{301}fe", "ca") && !between("éc", "c") && !between("xé", "x") && !between("école", "cole"))
        #expect(between("école cole", "cole") && !between("", "a") && !between("gun", "gunfire"))
        // Positive control: the same needles as ASCII text are plain byte matches.
        #expect(between("ca fe", "ca") && between("ec", "c"))
        // Such a match decides for needles whose ends join nothing, beyond ASCII too.
        for needle in ["gunfire", "الفاشر", "mocímboa", "école", "ǆemal", "a;b"] {
            #expect(IndexedQueryPlan.boundedMatchIsExact(needle), "\(needle)")
        }
        for needle in ["ca\u{301}", "\u{301}co", "x\r\ny", "a\u{0D4E}", "\u{200D}x", "x\u{1F3FB}", "\u{0600}1", "ab\u{093E}"] {
            #expect(!IndexedQueryPlan.boundedMatchIsExact(needle), "\(needle.unicodeScalars.map { $0.value })")
        }
    }
}
