import CSQLite
import Foundation
import OutpostCore

/// Filtered pages of incidents from the server's query indexes (`Store+QueryIndex`).
extension Store {
    /// One page of the incidents `filter` selects, in (created ms, id) order, with their total,
    /// answered from the query indexes; nil when this store has none (a device store).
    /// `textMatches` decides whether a searched field's index text (lowercased, NFC) holds the
    /// filter's text; it confirms every trigram match that is not exact by construction.
    public func indexedIncidents(
        _ filter: IncidentFilter, textMatches: (String) -> Bool
    ) throws(StoreError) -> IndexedIncidentPage? {
        try read { () throws -> IndexedIncidentPage? in
            guard try QueryIndexWriter.tablesExist(db) else { return nil }
            let rowids: (page: [Int64], total: Int, exact: Bool)
            if filter.readsMirror {
                let mirror = try currentQueryMirror()
                guard let matches = try mirrorMatches(filter, mirror, textMatches: textMatches) else {
                    return IndexedIncidentPage(incidents: [], total: 0, more: false)
                }
                rowids = (mirrorPage(filter, mirror, matches: matches), matches.count, true)
            } else {
                guard let plan = try IndexedQueryPlan(filter, db: db) else {
                    return IndexedIncidentPage(incidents: [], total: 0, more: false)
                }
                let pending = try plan.readsPendingText ? pendingText(textMatches: textMatches) : nil
                rowids = try plan.run(db: db, pending: pending, textMatches: textMatches)
            }
            var incidents: [IncidentRecord] = []
            incidents.reserveCapacity(rowids.page.count)
            let load = try db.cached("SELECT \(Store.recordColumns) FROM records WHERE rowid = ?")
            for rowid in rowids.page {
                if let incident = try load.bind(.integer(rowid)).first({ try incident(from: $0) }) { incidents.append(incident) }
            }
            let more = incidents.count > filter.limit
            if more { incidents.removeLast() }
            return IndexedIncidentPage(incidents: incidents, total: rowids.total, totalIsExact: rowids.exact, more: more)
        }
    }

    /// Every incident `filter` selects (its paging aside) as index entries (point, `occurred_at`),
    /// the page `filter` asks for in full, and in full too the matches `wanted` picks from the
    /// entries as labels (id and title); from one snapshot; nil when this store has no query
    /// indexes.
    public func indexedOverview(
        _ filter: IncidentFilter, textMatches: (String) -> Bool, wanted: ([IndexedMatch]) -> [Int64]
    ) throws(StoreError) -> IndexedOverview? {
        try read { () throws -> IndexedOverview? in
            guard try QueryIndexWriter.tablesExist(db) else { return nil }
            var out = IndexedOverview()
            let page: [Int64]
            var mirrored: QueryMirror?
            if filter.readsMirror {
                let mirror = try currentQueryMirror()
                mirrored = mirror
                guard let matches = try mirrorMatches(filter, mirror, textMatches: textMatches) else { return out }
                out.matches.reserveCapacity(matches.count)
                for slot in matches {
                    let entry = mirror.entries[slot]
                    out.matches.append(
                        IndexedMatch(
                            rowid: entry.rowid, lat: entry.lat.isNaN ? nil : entry.lat, lon: entry.lon.isNaN ? nil : entry.lon,
                            occurredMs: entry.flags & QueryMirror.Entry.occurred != 0 ? entry.occurredMs : nil))
                }
                page = mirrorPage(filter, mirror, matches: matches)
            } else {
                guard let plan = try IndexedQueryPlan(filter, db: db) else { return out }
                let pending = try plan.readsPendingText ? pendingText(textMatches: textMatches) : nil
                try plan.forEachMatch(db: db, pending: pending, textMatches: textMatches, exhaustive: true) {
                    out.matches.append($0)
                    return true
                }
                page = try plan.run(db: db, pending: pending, textMatches: textMatches, counting: false).page
            }
            let load = try db.cached("SELECT \(Store.recordColumns) FROM records WHERE rowid = ?")
            for rowid in page {
                if let incident = try load.bind(.integer(rowid)).first({ try incident(from: $0) }) { out.page.append(incident) }
            }
            out.more = out.page.count > filter.limit
            if out.more { out.page.removeLast() }
            let points = wanted(out.matches)
            if let mirrored {
                out.labels = try mirrorLabels(of: points.compactMap { mirrored.slots[$0] }, mirrored)
            } else {
                for rowid in points {
                    if let incident = try load.bind(.integer(rowid)).first({ try incident(from: $0) }) {
                        out.labels[rowid] = IncidentLabel(id: incident.id, title: incident.fields["title"]?.stringValue)
                    }
                }
            }
            return out
        }
    }

    /// The incidents whose text is not indexed yet (`query_text_pending`) and those of them whose
    /// current searched fields hold the text, as `textMatches` decides on each field lowercased.
    func pendingText(textMatches: (String) -> Bool) throws -> PendingText {
        var pending = PendingText()
        try db.cached(
            "SELECT p.rowid, r.id, r.state FROM query_text_pending p JOIN records r ON r.rowid = p.rowid AND r.collection = 'incidents'"
        ).forEach { row in
            let rowid = row.int(0)
            pending.all.insert(rowid)
            let fields = try decodeState(row, column: 2, key: RecordKey(id: row.text(1) ?? "")).visibleFields
            let holds = IncidentFilter.searchedFields.contains { name in
                guard let value = fields[name]?.stringValue, !value.isEmpty else { return false }
                return textMatches(value.lowercased())
            }
            if holds { pending.matching.insert(rowid) }
        }
        return pending
    }

}

/// One incident an indexed filter selects, as the query indexes hold it.
public struct IndexedMatch: Sendable {
    /// Its `records` rowid.
    public var rowid: Int64
    /// Its point (both or neither).
    public var lat: Double?
    public var lon: Double?
    /// Its `occurred_at` in ms (nil: none, or not a date).
    public var occurredMs: Int64?
}

/// Every match of a filter as index entries, its page, and the records asked for.
public struct IndexedOverview: Sendable {
    /// Every match, in no particular order.
    public var matches: [IndexedMatch] = []
    /// The page the filter asks for, in (created ms, id) order.
    public var page: [IncidentRecord] = []
    /// Whether more follow the page.
    public var more = false
    /// The id and title of the matches asked for, by rowid.
    public var labels: [Int64: IncidentLabel] = [:]
}

/// What names an incident on the map: its id and title.
public struct IncidentLabel: Sendable, Equatable {
    public var id: String
    public var title: String?

    public init(id: String, title: String?) {
        self.id = id
        self.title = title
    }
}

/// The incidents whose text `query_text` does not hold yet, and which of them hold the text.
struct PendingText {
    var all: Set<Int64> = []
    var matching: Set<Int64> = []
}

/// The SQL an `IncidentFilter` becomes over the query indexes.
///
/// Every `WHERE` term is exact except the text filter's trigram narrowing, whose matches are
/// confirmed (unless exact by construction). Two probes pick the plan: a box holding few points
/// is looked up in the R*Tree, a larger one is tested on each row's coordinates; text whose
/// trigram matches are few narrows the rows in SQL, while common text (or text without three
/// ASCII characters in a row) is confirmed row by row in (created, id) order, so the first page
/// needs only the first matches. Then the total is counted up to `textCountCap` matches.
struct IndexedQueryPlan {
    /// `WHERE` terms over `query_incidents q`, every one exact.
    private var terms: [String] = []
    private var values: [SQLValue] = []
    /// Terms that only speed a query up (the R*Tree, the trigram narrowing): the exact terms
    /// decide without them.
    private var accelerators: [String] = []
    private var acceleratorValues: [SQLValue] = []
    /// The text filter's trigram query, and whether a match in ASCII text is exact.
    private var textQuery: (match: String, exactInASCII: Bool)?
    /// The text filter's text as the byte searches of the rows take it.
    private var needle: TextNeedle?
    /// How a text filter is answered (nil: no text filter).
    private var textPlan: TextPlan?
    private let filter: IncidentFilter
    /// Whether incidents wait for their text and R*Tree entries (`query_text_pending`), probed
    /// once, when a filter needs to know: a text filter then decides them by their current state
    /// (`PendingText`), never by `query_text`, and an accelerator lets them through.
    private var hasPending: Bool?

    /// Whether `run` needs the pending incidents (`Store.pendingText`).
    var readsPendingText: Bool { textPlan != nil && hasPending == true }

    enum TextPlan {
        /// Few trigram matches: narrowed in SQL; each match confirmed unless exact; counted in full.
        case narrowed
        /// Common text, or text the trigram index cannot narrow: confirmed row by row.
        case confirmed
    }

    /// The plan, or nil when the filter can match nothing (an empty set, an unknown creator).
    init?(_ filter: IncidentFilter, db: Database) throws {
        self.filter = filter
        if !filter.includeDeleted { terms.append(IndexedQueryPlan.notDeleted) }
        if let since = filter.updatedAfterMs {
            terms.append("q.updated_ms > ?")
            values.append(.integer(since))
        }
        if let types = filter.eventTypes {
            guard !types.isEmpty else { return nil }
            addIn("q.event_type", types.sorted().map(SQLValue.text))
        }
        if let statuses = filter.statuses {
            guard !statuses.isEmpty else { return nil }
            addIn("q.status", statuses.sorted().map(SQLValue.text))
        }
        if let from = filter.occurredFromMs {
            terms.append("q.occurred_ms >= ?")
            values.append(.integer(from))
        }
        if let to = filter.occurredToMs {
            terms.append("q.occurred_ms <= ?")
            values.append(.integer(to))
        }
        if let conflicts = filter.hasConflicts { terms.append(conflicts ? "q.conflict = 1" : "q.conflict = 0") }
        if let creators = filter.creators {
            var indexes: [SQLValue] = []
            let lookup = try db.cached("SELECT idx FROM replicas WHERE id = ?")
            for replica in creators.sorted(by: { $0.hex < $1.hex }) {
                if let idx = try lookup.bind(.blob(replica.bytes)).first({ $0.int(0) }) { indexes.append(.integer(idx)) }
            }
            guard !indexes.isEmpty else { return nil }
            addIn("q.creator", indexes)
        }
        if let teams = filter.teams {
            guard !teams.isEmpty else { return nil }
            addIn(
                "(SELECT a.team FROM record_access a WHERE a.collection = 'incidents' AND a.record = q.id)",
                teams.sorted().map(SQLValue.text))
        }
        if let box = filter.bbox {
            // The R*Tree holds 32-bit bounds rounded outwards, so its overlap test finds a superset;
            // the stored doubles decide exactly, as `BoundingBox.contains` does.
            let spans = box.minLon <= box.maxLon ? [(box.minLon, box.maxLon)] : [(box.minLon, 180.0), (-180.0, box.maxLon)]
            let geo = spans.map { _ in
                "SELECT id FROM query_geo WHERE max_lon >= ? AND min_lon <= ? AND max_lat >= ? AND min_lat <= ?"
            }
            var geoValues: [SQLValue] = []
            for (low, high) in spans { geoValues += [.real(low), .real(high), .real(box.minLat), .real(box.maxLat)] }
            let geoQuery = geo.joined(separator: " UNION ALL ")
            let held =
                try db.cached("SELECT count(*) FROM (\(geoQuery) LIMIT \(filter.boxLookupLimit))").bind(geoValues)
                .first { Int($0.int(0)) } ?? 0
            if held < filter.boxLookupLimit { try addDeferredAccelerator("q.rowid IN (\(geoQuery))", geoValues, db: db) }
            terms.append("q.lat >= ? AND q.lat <= ?")
            values += [.real(box.minLat), .real(box.maxLat)]
            terms.append(box.minLon <= box.maxLon ? "q.lon >= ? AND q.lon <= ?" : "(q.lon >= ? OR q.lon <= ?)")
            values += [.real(box.minLon), .real(box.maxLon)]
        }
        if let text = filter.text, !text.isEmpty {
            needle = TextNeedle(text)
            textQuery = IndexedQueryPlan.trigramQuery(for: text)
            textPlan = .confirmed
            _ = try pendingExists(db)
            if let textQuery {
                let matches =
                    try db.cached(
                        "SELECT count(*) FROM (SELECT rowid FROM query_text WHERE query_text MATCH ? LIMIT \(filter.textNarrowingLimit))"
                    ).bind(.text(textQuery.match)).first { Int($0.int(0)) } ?? 0
                if matches < filter.textNarrowingLimit {
                    textPlan = .narrowed
                    try addDeferredAccelerator(
                        "q.rowid IN (SELECT rowid >> 4 FROM query_text WHERE query_text MATCH ?)", [.text(textQuery.match)],
                        db: db)
                }
            }
        }
    }

    /// Whether any incident waits for its text and R*Tree entries (probed once).
    private mutating func pendingExists(_ db: Database) throws -> Bool {
        if let hasPending { return hasPending }
        let exists = try db.cached("SELECT EXISTS (SELECT 1 FROM query_text_pending)").first { $0.int(0) != 0 } ?? false
        hasPending = exists
        return exists
    }

    /// Adds an accelerator over an index the drain writes (`query_text`, `query_geo`): an
    /// incident waiting for its entries there may have none yet, or old ones, so it passes too,
    /// left to the exact terms.
    private mutating func addDeferredAccelerator(_ term: String, _ values: [SQLValue], db: Database) throws {
        accelerators.append(try pendingExists(db) ? "(\(term) OR q.rowid IN (SELECT rowid FROM query_text_pending))" : term)
        acceleratorValues += values
    }

    private mutating func addIn(_ column: String, _ items: [SQLValue]) {
        terms.append("\(column) IN (\(items.map { _ in "?" }.joined(separator: ", ")))")
        values += items
    }

    /// The trigram query narrowing a search for `text`: every run of at least three ASCII
    /// characters of its lowercased NFC form must appear in the same field (a field holding the
    /// text holds those bytes: an ASCII character is equal only to itself). Whether a match in
    /// ASCII text is exact: the whole text is such a run, without CR or LF (the one ASCII pair
    /// that is a single character). Nil when the text has no such run.
    static func trigramQuery(for text: String) -> (match: String, exactInASCII: Bool)? {
        let needle = text.lowercased().precomposedStringWithCanonicalMapping
        func phrase(_ text: String) -> String { "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        // Text beyond ASCII, three characters or more: the whole text in NFC. A field holding it
        // holds its NFC bytes (canonically equivalent characters have one NFC form, and NFC
        // composes only within a character), and trigram folding of both sides keeps a match.
        if narrowsByNFC(needle) { return (phrase(needle), false) }
        var runs: [String] = []
        var current = ""
        for scalar in needle.unicodeScalars {
            if scalar.isASCII {
                current.unicodeScalars.append(scalar)
            } else {
                if current.utf8.count >= 3 { runs.append(current) }
                current = ""
            }
        }
        if current.utf8.count >= 3 { runs.append(current) }
        guard !runs.isEmpty else { return nil }
        let exact =
            runs.count == 1 && runs[0].utf8.count == needle.utf8.count
            && !needle.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D })
        let match = runs.map(phrase).joined(separator: " AND ")
        return (match, exact)
    }

    /// Whether the (lowercased NFC) text, beyond ASCII, narrows by its own NFC bytes: three
    /// characters or more, not starting with a combining mark (a mark alone may match inside a
    /// precomposed character).
    static func narrowsByNFC(_ needle: String) -> Bool {
        guard let first = needle.unicodeScalars.first, first.properties.canonicalCombiningClass == .notReordered else {
            return false
        }
        return !needle.utf8.allSatisfy({ $0 < 0x80 }) && needle.unicodeScalars.count >= 3
    }

    /// The term leaving deleted incidents out.
    private static let notDeleted = "q.deleted = 0"

    /// `parts` joined by AND (true when none).
    private static func clause(_ parts: [String]) -> String { parts.isEmpty ? "1" : parts.joined(separator: " AND ") }
    /// The exact terms.
    private var whereClause: String { IndexedQueryPlan.clause(terms) }
    /// The exact terms and the accelerators.
    private var fastWhereClause: String { IndexedQueryPlan.clause(terms + accelerators) }
    private var fastValues: [SQLValue] { values + acceleratorValues }
    /// `fastWhereClause` for reading every match in no order: `deleted` kept from choosing an
    /// index (nearly every incident passes it, and each index entry would cost a table lookup;
    /// a filter that narrows still picks its own index).
    private var everyMatchWhereClause: String {
        IndexedQueryPlan.clause(terms.map { $0 == IndexedQueryPlan.notDeleted ? "+" + $0 : $0 } + accelerators)
    }

    /// Whether the incident at `rowid` holds the text, each of its rows decided by
    /// `TextNeedle.holds` (pending incidents by their current state).
    private func holdsText(_ rowid: Int64, db: Database, pending: PendingText?, textMatches: (String) -> Bool) throws -> Bool {
        if let pending, pending.all.contains(rowid) { return pending.matching.contains(rowid) }
        guard let needle else { return true }
        var found = false
        try db.cached("SELECT rowid, text, raw FROM query_text_rows WHERE rowid BETWEEN ? AND ?")
            .bind(.integer(rowid &* 16), .integer(rowid &* 16 &+ 15)).scan { row in
                found = row.withBytes(1) { text in
                    needle.holds(
                        text, ascii: row.int(0) & 8 == 0, value: { row.isNull(2) ? row.text(1) : row.text(2) },
                        textMatches: textMatches)
                }
                return !found
            }
        return found
    }

    /// Whether `haystack` holds the bytes of `needle`.
    static func bytes(_ haystack: UnsafeBufferPointer<UInt8>, contain needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        return bytes(haystack, contain: needle) { _ in true }
    }

    /// Whether `haystack` holds the bytes of `needle` with an ASCII byte or an end on each side.
    /// For a needle `boundedMatchIsExact` takes, such a match in a field's NFC text is a match of
    /// the text rule on the field as written: the matched bytes are whole characters, canonically
    /// equivalent to the needle's.
    static func bytes(_ haystack: UnsafeBufferPointer<UInt8>, containBetweenASCII needle: [UInt8]) -> Bool {
        bytes(haystack, contain: needle) { at in
            (at == 0 || haystack[at - 1] < 0x80) && (at + needle.count == haystack.count || haystack[at + needle.count] < 0x80)
        }
    }

    /// Whether `haystack` holds the bytes of (non-empty) `needle` at an offset `accept` takes.
    private static func bytes(
        _ haystack: UnsafeBufferPointer<UInt8>, contain needle: [UInt8], where accept: (Int) -> Bool
    ) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count, let base = haystack.baseAddress else { return false }
        return needle.withUnsafeBufferPointer { wanted in
            var at = 0
            while at + wanted.count <= haystack.count {
                // memmem finds each occurrence (a two-way search, vectorised in glibc).
                guard let hit = outpost_memmem(base + at, haystack.count - at, wanted.baseAddress!, wanted.count) else {
                    return false
                }
                at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                if accept(at) { return true }
                at += 1
            }
            return false
        }
    }

    /// Letters that prepend (Grapheme_Cluster_Break = Prepend beyond the format characters).
    private static let prependedLetters: Set<UInt32> = [
        0x0D4E, 0x111C2, 0x111C3, 0x1193F, 0x11941, 0x11A3A, 0x11A84, 0x11A85, 0x11A86, 0x11A87, 0x11A88, 0x11A89, 0x11D46,
        0x11F02,
    ]

    /// Whether a byte match of `needle` (lowercased NFC) between ASCII bytes or ends of a field's
    /// NFC text is a match of the text rule. A character boundary lies between an ASCII character
    /// and any other (CR LF aside), unless the other joins it: a mark, a format or control
    /// character, an emoji modifier, or a prepended letter (which joins what follows). So a needle
    /// without CR or LF whose first and last characters join nothing is met there as whole
    /// characters; NFC never composes across an ASCII character, so the field as written holds
    /// the same characters there, canonically equivalent.
    static func boundedMatchIsExact(_ needle: String) -> Bool {
        guard !needle.utf8.contains(where: { $0 == 0x0A || $0 == 0x0D }), let first = needle.unicodeScalars.first,
            let last = needle.unicodeScalars.last
        else { return false }
        func joins(_ scalar: Unicode.Scalar) -> Bool {
            let properties = scalar.properties
            switch properties.generalCategory {
            case .nonspacingMark, .spacingMark, .enclosingMark, .format, .control, .surrogate, .privateUse, .unassigned:
                return true
            default:
                return properties.isGraphemeExtend || properties.isEmojiModifier
                    || IndexedQueryPlan.prependedLetters.contains(scalar.value)
            }
        }
        return !joins(first) && !joins(last)
    }

    /// The rowids of the page's incidents (one more than the page when more follow), the total,
    /// and whether the total is exact (a text filter answered row by row counts at most
    /// `IncidentFilter.textCountCap` matches; 0 without `counting`). `pending` is
    /// `Store.pendingText` when `readsPendingText`.
    func run(db: Database, pending: PendingText?, textMatches: (String) -> Bool, counting: Bool = true) throws -> (
        page: [Int64], total: Int, exact: Bool
    ) {
        var pageTerms = fastWhereClause
        var pageValues = fastValues
        if let after = filter.after {
            pageTerms += " AND (q.created_ms > ? OR (q.created_ms = ? AND q.id > ?))"
            pageValues += [.integer(after.createdMs), .integer(after.createdMs), .text(after.id)]
        }
        let wanted = filter.limit + 1
        let skip = filter.after == nil ? filter.offset : 0
        let (flag, flagValues) = exactFlag(pending: pending)
        guard textPlan != nil else {
            let total =
                !counting
                ? 0
                : try db.cached("SELECT count(*) FROM query_incidents q WHERE \(fastWhereClause)").bind(fastValues).first {
                    Int($0.int(0))
                } ?? 0
            var page: [Int64] = []
            try db.cached("SELECT q.rowid FROM query_incidents q WHERE \(pageTerms) ORDER BY q.created_ms, q.id LIMIT ? OFFSET ?")
                .bind(pageValues + [.integer(Int64(wanted)), .integer(Int64(skip))]).forEach { page.append($0.int(0)) }
            return (page, total, true)
        }
        // The page: candidates in order, each exact or confirmed, until it is full.
        var page: [Int64] = []
        var skipped = 0
        try db.cached("SELECT q.rowid, \(flag) FROM query_incidents q WHERE \(pageTerms) ORDER BY q.created_ms, q.id")
            .bind(flagValues + pageValues).scan { row in
                let rowid = row.int(0)
                guard try row.int(1) != 0 || holdsText(rowid, db: db, pending: pending, textMatches: textMatches) else {
                    return true
                }
                if skipped < skip {
                    skipped += 1
                    return true
                }
                page.append(rowid)
                return page.count < wanted
            }
        guard counting else { return (page, 0, true) }
        // The total: every match, up to `cap` (one past the cap stops it).
        let cap = textPlan == .narrowed ? Int.max : filter.textCountCap
        var total = 0
        var exhausted = true
        try forEachMatch(db: db, pending: pending, textMatches: textMatches) { _ in
            guard total < cap else {
                exhausted = false
                return false
            }
            total += 1
            return true
        }
        return (page, total, exhausted)
    }

    /// The text filter's flag column: 1 for a row whose exact trigram match in ASCII text needs
    /// no confirming (never a pending one), and its values.
    private func exactFlag(pending: PendingText?) -> (String, [SQLValue]) {
        let exactMatch = textQuery.flatMap { $0.exactInASCII ? $0.match : nil }
        guard textPlan == .narrowed, let exactMatch else { return ("0", []) }
        return (
            "q.rowid IN (SELECT rowid >> 4 FROM query_text WHERE query_text MATCH ? AND (rowid & 8) = 0)"
                + (pending == nil ? "" : " AND q.rowid NOT IN (SELECT rowid FROM query_text_pending)"), [.text(exactMatch)]
        )
    }

    /// Calls `body` with every match (paging aside), in no particular order, while it returns true.
    /// `exhaustive`: the caller wants every match (not the first few), so common text is looked
    /// up in the trigram index once and the other filters' rows are tested against that.
    func forEachMatch(
        db: Database, pending: PendingText?, textMatches: (String) -> Bool, exhaustive: Bool = false,
        _ body: (IndexedMatch) throws -> Bool
    ) throws {
        func match(_ row: Row, _ rowid: Int64, from column: Int32) -> IndexedMatch {
            IndexedMatch(
                rowid: rowid, lat: row.isNull(column) ? nil : row.double(column),
                lon: row.isNull(column + 1) ? nil : row.double(column + 1),
                occurredMs: row.isNull(column + 2) ? nil : row.int(column + 2))
        }
        let (flag, flagValues) = exactFlag(pending: pending)
        guard let textPlan else {
            try db.cached("SELECT q.rowid, q.lat, q.lon, q.occurred_ms FROM query_incidents q WHERE \(everyMatchWhereClause)")
                .bind(fastValues).scan { row in try body(match(row, row.int(0), from: 1)) }
            return
        }
        let exactMatch = textQuery.flatMap { $0.exactInASCII ? $0.match : nil }
        if exhaustive, textPlan == .confirmed, let textQuery {
            // Every trigram match once (by incident: whether one of its rows is an exact match),
            // then the rows of the other filters, each looked up there: a row without a trigram
            // match cannot hold the text.
            var trigramMatches: [Int64: Bool] = [:]
            try db.cached("SELECT rowid FROM query_text WHERE query_text MATCH ?").bind(.text(textQuery.match)).forEach { row in
                let textRow = row.int(0)
                if exactMatch != nil && textRow & 8 == 0 {
                    trigramMatches[textRow >> 4] = true
                } else if trigramMatches[textRow >> 4] == nil {
                    trigramMatches[textRow >> 4] = false
                }
            }
            try db.cached("SELECT q.rowid, q.lat, q.lon, q.occurred_ms FROM query_incidents q WHERE \(everyMatchWhereClause)")
                .bind(fastValues).scan { row in
                    let rowid = row.int(0)
                    // A pending incident is decided by `holdsText` (its current state), whatever
                    // the trigram index still holds of it.
                    let isPending = pending?.all.contains(rowid) == true
                    guard let exact = isPending ? false : trigramMatches[rowid],
                        try exact || holdsText(rowid, db: db, pending: pending, textMatches: textMatches)
                    else { return true }
                    return try body(match(row, rowid, from: 1))
                }
            return
        }
        // Few candidates by the other filters: each confirmed; many: the trigram matches instead.
        let others =
            textPlan == .confirmed && textQuery != nil
            ? try db.cached("SELECT count(*) FROM (SELECT 1 FROM query_incidents q WHERE \(fastWhereClause) LIMIT ?)")
                .bind(fastValues + [.integer(Int64(filter.textCountCap * 10))]).first { Int($0.int(0)) } ?? 0 : 0
        if textPlan == .confirmed, let textQuery, others >= filter.textCountCap * 10 {
            // Common text: the trigram matches in index order (lazily), each incident once, its
            // other filters checked by rowid (the exact terms only), then its text.
            let passes = try db.cached(
                "SELECT q.lat, q.lon, q.occurred_ms FROM query_incidents q WHERE q.rowid = ? AND \(whereClause)")
            var last: Int64 = -1
            var going = true
            try db.cached("SELECT rowid FROM query_text WHERE query_text MATCH ? ORDER BY rowid").bind(.text(textQuery.match))
                .scan { row in
                    let textRow = row.int(0)
                    let rowid = textRow >> 4
                    guard rowid != last else { return true }
                    last = rowid
                    // A pending incident's text in the index may be old: it is decided below.
                    if let pending, pending.all.contains(rowid) { return true }
                    guard let found = try passes.bind([.integer(rowid)] + values).first({ match($0, rowid, from: 0) }) else {
                        return true
                    }
                    let exact = exactMatch != nil && textRow & 8 == 0
                    guard try exact || holdsText(rowid, db: db, pending: pending, textMatches: textMatches) else { return true }
                    going = try body(found)
                    return going
                }
            for rowid in (pending?.matching ?? []).sorted() where going {
                guard let found = try passes.bind([.integer(rowid)] + values).first({ match($0, rowid, from: 0) }) else {
                    continue
                }
                going = try body(found)
            }
        } else {
            try db.cached(
                "SELECT q.rowid, \(flag), q.lat, q.lon, q.occurred_ms FROM query_incidents q WHERE \(fastWhereClause)"
            ).bind(flagValues + fastValues).scan { row in
                let rowid = row.int(0)
                guard try row.int(1) != 0 || holdsText(rowid, db: db, pending: pending, textMatches: textMatches) else {
                    return true
                }
                return try body(match(row, rowid, from: 2))
            }
        }
    }
}

extension Store {
    /// Every replica this store has heard of.
    public func knownReplicas() throws(StoreError) -> Set<ReplicaID> {
        try read {
            var out: Set<ReplicaID> = []
            try db.cached("SELECT id FROM replicas").forEach { out.insert(ReplicaID(bytes: $0.bytes(0))) }
            return out
        }
    }
}
