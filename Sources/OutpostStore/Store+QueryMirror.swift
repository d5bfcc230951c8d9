import CSQLite
import Foundation
import OutpostCore

/// Filtered pages and overviews answered from the query indexes held in memory (`QueryMirror`).
extension Store {
    /// The mirror of this store's query indexes, brought up to the snapshot of the current read
    /// transaction (built the first time). Call only inside `read` on a store with query indexes.
    func currentQueryMirror() throws -> QueryMirror {
        let top = try db.cached("SELECT coalesce(max(seq), 0) FROM changes").first { $0.int(0) } ?? 0
        let generation = try QueryIndexWriter.generation(db)
        if let mirror = queryMirror, mirror.generation == generation {
            if mirror.seq == top { return mirror }
            if try refresh(mirror, to: top) { return mirror }
        }
        let mirror = try loadQueryMirror(seq: top)
        mirror.generation = generation
        queryMirror = mirror
        return mirror
    }

    /// Builds the mirror now, titles too (the server at start, so no analyst's first query
    /// waits for it).
    public func warmQueryMirror() throws(StoreError) {
        try read {
            guard try QueryIndexWriter.tablesExist(db) else { return }
            let mirror = try currentQueryMirror()
            try readTitles(of: Array(mirror.entries.indices), mirror)
        }
    }

    /// Reads the titles of the incidents at `slots` not read yet, from their state.
    private func readTitles(of slots: [Int], _ mirror: QueryMirror) throws {
        let load = try db.cached("SELECT state FROM records WHERE rowid = ?")
        for slot in slots where mirror.titles[slot] == nil {
            let visible = try load.bind(.integer(mirror.entries[slot].rowid)).first { row in
                try decodeState(row, column: 0, key: RecordKey(id: mirror.ids[slot])).visibleFields
            }
            mirror.titles[slot] = .some(visible?["title"]?.stringValue)
        }
    }

    /// The id and title of the incidents at `slots`, by rowid.
    func mirrorLabels(of slots: [Int], _ mirror: QueryMirror) throws -> [Int64: IncidentLabel] {
        try readTitles(of: slots, mirror)
        var out: [Int64: IncidentLabel] = [:]
        for slot in slots {
            out[mirror.entries[slot].rowid] = IncidentLabel(id: mirror.ids[slot], title: mirror.titles[slot] ?? nil)
        }
        return out
    }

    /// The columns of `query_incidents` a mirror entry holds, after `rowid, id`.
    private static let mirrorColumns =
        "q.created_ms, q.updated_ms, q.event_type, q.status, q.deleted, q.conflict, q.lat, q.lon, q.occurred_ms, q.creator, a.team"
    /// The join giving `a.team` to a query over `query_incidents q`.
    private static let teamJoin = "LEFT JOIN record_access a ON a.collection = 'incidents' AND a.record = q.id"
    /// The incidents' access rows: how many, and the greatest position.
    private static let accessCounters =
        "SELECT count(*), coalesce(max(pos), 0) FROM record_access WHERE collection = 'incidents'"

    /// The entry of a row selected with `rowid, id, mirrorColumns`.
    private func mirrorEntry(_ row: Row, _ mirror: QueryMirror) -> QueryMirror.Entry {
        var flags: UInt8 = 0
        if row.int(6) != 0 { flags |= QueryMirror.Entry.deleted }
        if row.int(7) != 0 { flags |= QueryMirror.Entry.conflict }
        if !row.isNull(10) { flags |= QueryMirror.Entry.occurred }
        return QueryMirror.Entry(
            rowid: row.int(0), createdMs: row.int(2), updatedMs: row.int(3), occurredMs: row.isNull(10) ? 0 : row.int(10),
            lat: row.isNull(8) ? .nan : row.double(8), lon: row.isNull(9) ? .nan : row.double(9),
            creator: row.isNull(11) ? -1 : row.int(11), eventType: mirror.code(row.text(4)), status: mirror.code(row.text(5)),
            team: mirror.code(row.text(12)), flags: flags)
    }

    /// Every index row and its text: the text index's rows, except for the incidents waiting for
    /// them (`query_text_pending`), whose text is taken from their state.
    private func loadQueryMirror(seq: Int64) throws -> QueryMirror {
        let mirror = QueryMirror()
        mirror.seq = seq
        mirror.access = try db.cached(Store.accessCounters).first { (Int($0.int(0)), $0.int(1)) } ?? (0, 0)
        try db.cached("SELECT q.rowid, q.id, \(Store.mirrorColumns) FROM query_incidents q \(Store.teamJoin)").forEach { row in
            mirror.put(mirrorEntry(row, mirror), id: row.text(1) ?? "", fields: [])
        }
        // Text rows come by incident (row ids `rowid × 16 + …`): each incident's set at once.
        var current: (slot: Int, fields: [QueryMirror.Field])?
        try db.cached("SELECT rowid, text, raw FROM query_text_rows ORDER BY rowid").forEach { row in
            let textRow = row.int(0)
            guard let slot = mirror.slots[textRow >> 4] else { return }
            if let held = current, held.slot != slot {
                mirror.text.set(slot: held.slot, fields: held.fields)
                current = nil
            }
            let field = QueryMirror.Field(bytes: row.bytes(1), ascii: textRow & 8 == 0, raw: row.isNull(2) ? nil : row.text(2))
            if current == nil { current = (slot, []) }
            current!.fields.append(field)
        }
        if let held = current { mirror.text.set(slot: held.slot, fields: held.fields) }
        try db.cached(
            "SELECT p.rowid, r.id, r.state FROM query_text_pending p JOIN records r ON r.rowid = p.rowid AND r.collection = 'incidents'"
        ).forEach { row in
            guard let slot = mirror.slots[row.int(0)] else { return }
            let visible = try decodeState(row, column: 2, key: RecordKey(id: row.text(1) ?? "")).visibleFields
            mirror.text.set(slot: slot, fields: QueryMirror.fields(of: visible))
            mirror.titles[slot] = .some(visible["title"]?.stringValue)
        }
        return mirror
    }

    /// Reads again the incidents named by changes after the mirror's `seq`; false when they are
    /// too many (reading every row is then cheaper).
    private func refresh(_ mirror: QueryMirror, to top: Int64) throws -> Bool {
        var changed: [String] = []
        try db.cached("SELECT DISTINCT record FROM changes WHERE seq > ? AND collection = 'incidents'")
            .bind(.integer(mirror.seq)).forEach { changed.append($0.text(0) ?? "") }
        guard changed.count <= max(1_000, mirror.entries.count / 4) else { return false }
        let load = try db.cached(
            """
            SELECT q.rowid, q.id, \(Store.mirrorColumns), r.state FROM records r JOIN query_incidents q ON q.rowid = r.rowid
            \(Store.teamJoin) WHERE r.collection = 'incidents' AND r.id = ?
            """)
        for id in changed {
            try load.bind(.text(id)).first { row in
                let visible = try decodeState(row, column: 13, key: RecordKey(id: id)).visibleFields
                mirror.put(
                    mirrorEntry(row, mirror), id: id, fields: QueryMirror.fields(of: visible),
                    title: .some(visible["title"]?.stringValue))
            }
        }
        mirror.seq = top
        return true
    }

    /// Brings the mirror's teams up to `record_access` (before a filter by team): the rows moved
    /// since (a greater position), and the rows made since for incidents that had none (a new
    /// incident's row is made after its apply, at position 0); every team again when the rows
    /// and the incidents with a team do not add up (a row went). An incident read again by
    /// `refresh` took its team then.
    func refreshTeams(_ mirror: QueryMirror) throws {
        let now = try db.cached(Store.accessCounters).first { (Int($0.int(0)), $0.int(1)) } ?? (0, 0)
        guard now != mirror.access else { return }
        let slots = mirror.slots
        let rows = "SELECT r.rowid, a.team FROM record_access a JOIN records r ON r.collection = a.collection AND r.id = a.record"
        try db.cached("\(rows) WHERE a.pos > ? AND a.collection = 'incidents'").bind(.integer(mirror.access.pos)).forEach { row in
            if let slot = slots[row.int(0)] { mirror.entries[slot].team = mirror.code(row.text(1)) }
        }
        let lookup = try db.cached("SELECT team FROM record_access WHERE collection = 'incidents' AND record = ?")
        for slot in mirror.entries.indices where mirror.entries[slot].team < 0 {
            if let team = try lookup.bind(.text(mirror.ids[slot])).first({ $0.text(0) }) {
                mirror.entries[slot].team = mirror.code(team)
            }
        }
        if mirror.entries.lazy.filter({ $0.team >= 0 }).count != now.0 {
            for slot in mirror.entries.indices { mirror.entries[slot].team = -1 }
            try db.cached("\(rows) WHERE a.collection = 'incidents'").forEach { row in
                if let slot = slots[row.int(0)] { mirror.entries[slot].team = mirror.code(row.text(1)) }
            }
        }
        mirror.access = now
    }

    /// The positions in `mirror` of every incident `filter` selects (its paging aside); nil when
    /// it can select none.
    func mirrorMatches(_ filter: IncidentFilter, _ mirror: QueryMirror, textMatches: (String) -> Bool) throws -> [Int]? {
        if filter.teams != nil { try refreshTeams(mirror) }
        guard let test = try MirrorTest(filter, mirror: mirror, db: db) else { return nil }
        var out: [Int] = []
        mirror.entries.withUnsafeBufferPointer { entries in
            if test.needle == nil {
                for slot in entries.indices where test.passes(entries[slot]) { out.append(slot) }
            } else if test.searchesBuffer {
                var matched = [Bool](repeating: false, count: entries.count)
                test.scan(mirror.text, entries: entries, matched: &matched, textMatches: textMatches)
                for slot in matched.indices where matched[slot] { out.append(slot) }
            } else {
                for slot in entries.indices where test.passes(entries[slot]) {
                    if test.holdsText(slot, mirror.text, textMatches: textMatches) { out.append(slot) }
                }
            }
        }
        return out
    }

    /// The rowids of the page `filter` asks for among `matches`, in (created ms, id) order: one
    /// more than the page when more follow.
    func mirrorPage(_ filter: IncidentFilter, _ mirror: QueryMirror, matches: [Int]) -> [Int64] {
        func precedes(_ a: Int, _ b: Int) -> Bool {
            let x = mirror.entries[a].createdMs
            let y = mirror.entries[b].createdMs
            return x < y || (x == y && RecordKey.idPrecedes(mirror.ids[a], mirror.ids[b]))
        }
        var candidates = matches
        var skip = filter.offset
        if let after = filter.after {
            skip = 0
            candidates = matches.filter { slot in
                let ms = mirror.entries[slot].createdMs
                return ms > after.createdMs || (ms == after.createdMs && RecordKey.idPrecedes(after.id, mirror.ids[slot]))
            }
        }
        // How many come first in order: the skipped ones and the page, and one more (bounded by
        // the candidates, whatever offset and limit were asked).
        let wanted = min(candidates.count, min(skip, candidates.count) + min(filter.limit, candidates.count) + 1)
        var best: [Int] = []
        if wanted > 64 && wanted > candidates.count / 16 {
            // Most of them (an export, a deep page): sorted outright.
            best = candidates.sorted(by: precedes)
        } else {
            // The first `wanted`, kept sorted: most candidates fall past the last kept.
            best.reserveCapacity(wanted + 1)
            for slot in candidates {
                if best.count == wanted {
                    guard precedes(slot, best[wanted - 1]) else { continue }
                    best.removeLast()
                }
                var low = 0
                var high = best.count
                while low < high {
                    let mid = (low + high) / 2
                    if precedes(best[mid], slot) { low = mid + 1 } else { high = mid }
                }
                best.insert(slot, at: low)
            }
        }
        return best.prefix(wanted).dropFirst(skip).map { mirror.entries[$0].rowid }
    }
}

/// A filter as tests on mirror entries: the same terms as `IndexedQueryPlan`'s SQL, each exact.
struct MirrorTest {
    private var deleted = false
    private var updatedAfter: Int64?
    private var types: Set<Int32>?
    private var statuses: Set<Int32>?
    private var occurredFrom: Int64?
    private var occurredTo: Int64?
    private var conflict: Bool?
    private var creators: Set<Int64>?
    private var teams: Set<Int32>?
    private var box: (minLon: Double, minLat: Double, maxLon: Double, maxLat: Double)?
    /// The text filter's text (nil: none).
    private(set) var needle: TextNeedle?

    /// The test, or nil when the filter selects nothing (an empty set, an unknown creator).
    init?(_ filter: IncidentFilter, mirror: QueryMirror, db: Database) throws {
        deleted = filter.includeDeleted
        updatedAfter = filter.updatedAfterMs
        if let names = filter.eventTypes {
            types = Set(names.compactMap { mirror.codes[$0] })
            if types!.isEmpty { return nil }
        }
        if let names = filter.statuses {
            statuses = Set(names.compactMap { mirror.codes[$0] })
            if statuses!.isEmpty { return nil }
        }
        occurredFrom = filter.occurredFromMs
        occurredTo = filter.occurredToMs
        conflict = filter.hasConflicts
        if let replicas = filter.creators {
            var indexes: Set<Int64> = []
            let lookup = try db.cached("SELECT idx FROM replicas WHERE id = ?")
            for replica in replicas {
                if let idx = try lookup.bind(.blob(replica.bytes)).first({ $0.int(0) }) { indexes.insert(idx) }
            }
            if indexes.isEmpty { return nil }
            creators = indexes
        }
        if let names = filter.teams {
            teams = Set(names.compactMap { mirror.codes[$0] })
            if teams!.isEmpty { return nil }
        }
        box = filter.bbox
        if let text = filter.text, !text.isEmpty { needle = TextNeedle(text) }
    }

    /// Whether an entry passes every term but the text.
    @inline(__always)
    func passes(_ entry: QueryMirror.Entry) -> Bool {
        if !deleted && entry.flags & QueryMirror.Entry.deleted != 0 { return false }
        if let updatedAfter, entry.updatedMs <= updatedAfter { return false }
        if let types, !types.contains(entry.eventType) { return false }
        if let statuses, !statuses.contains(entry.status) { return false }
        if occurredFrom != nil || occurredTo != nil {
            guard entry.flags & QueryMirror.Entry.occurred != 0 else { return false }
            if let occurredFrom, entry.occurredMs < occurredFrom { return false }
            if let occurredTo, entry.occurredMs > occurredTo { return false }
        }
        if let conflict, (entry.flags & QueryMirror.Entry.conflict != 0) != conflict { return false }
        if let creators, !creators.contains(entry.creator) { return false }
        if let teams, !teams.contains(entry.team) { return false }
        if let box {
            guard entry.lat >= box.minLat && entry.lat <= box.maxLat else { return false }
            let inside =
                box.minLon <= box.maxLon
                ? entry.lon >= box.minLon && entry.lon <= box.maxLon : entry.lon >= box.minLon || entry.lon <= box.maxLon
            if !inside { return false }
        }
        return true
    }

    /// Whether every field holding the text holds its bytes, so that one search of the buffer
    /// finds them all (not for text whose bytes hold a 0, the fields' separator).
    var searchesBuffer: Bool {
        guard let needle else { return false }
        return needle.runs.count == 1 && needle.runs[0] == needle.bytes && !needle.bytes.contains(0)
    }

    /// Marks in `matched` every incident passing every term whose fields hold the text, from one
    /// search of the buffer for the text's bytes (`searchesBuffer`).
    func scan(
        _ text: MirrorText, entries: UnsafeBufferPointer<QueryMirror.Entry>, matched: inout [Bool],
        textMatches: (String) -> Bool
    ) {
        guard let needle else { return }
        let starts = text.starts
        let lengths = text.lengths
        let owners = text.owners
        text.bytes.withUnsafeBufferPointer { all in
            needle.bytes.withUnsafeBufferPointer { wanted in
                guard let base = all.baseAddress, let wantedBase = wanted.baseAddress else { return }
                var at = 0
                var field = 0
                while at + wanted.count <= all.count {
                    guard let hit = outpost_memmem(base + at, all.count - at, wantedBase, wanted.count) else { return }
                    let offset = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    // The field holding the hit (fields lie in the buffer's order; no hit spans two).
                    while field + 1 < starts.count && starts[field + 1] <= offset { field += 1 }
                    let start = starts[field]
                    let end = start + Int(lengths[field])
                    let owner = Int(owners[field])
                    if owner >= 0 && !matched[owner] && passes(entries[owner]) {
                        if needle.exactInASCII && text.ascii[field] {
                            matched[owner] = true
                        } else if needle.boundedMatchIsExact && (offset == start || all[offset - 1] < 0x80)
                            && (offset + wanted.count == end || all[offset + wanted.count] < 0x80)
                        {
                            matched[owner] = true
                        } else {
                            // The rule decides the whole field.
                            matched[owner] = textMatches(text.value(field))
                        }
                    }
                    at = end + 1
                }
            }
        }
    }

    /// Whether one of the fields of the incident at `slot` holds the text (`TextNeedle.holds`,
    /// as the SQL plan decides the text index's rows).
    func holdsText(_ slot: Int, _ text: MirrorText, textMatches: (String) -> Bool) -> Bool {
        guard let needle else { return true }
        return text.ranges[slot].contains { field in
            let start = text.starts[field]
            return text.bytes.withUnsafeBufferPointer { all in
                needle.holds(
                    UnsafeBufferPointer(rebasing: all[start..<(start + Int(text.lengths[field]))]), ascii: text.ascii[field],
                    value: { text.value(field) }, textMatches: textMatches)
            }
        }
    }
}
