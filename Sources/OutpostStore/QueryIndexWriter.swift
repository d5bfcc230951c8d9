import Foundation
import OutpostCore

/// Keeps the server's query indexes (`Store+QueryIndex`) current for the incidents one
/// transaction writes. Made only for a plaintext store that holds the index tables; every write
/// goes through the store's connection inside the caller's transaction, so the indexes commit
/// or roll back with the records they describe.
final class QueryIndexWriter {
    private let db: Database

    /// A writer for `store`, or nil when the store has no query indexes or is encrypted (a device
    /// store: no plaintext copy of its fields may be written).
    init?(store: Store) throws {
        guard store.cipher == nil, try QueryIndexWriter.tablesExist(store.db) else { return nil }
        db = store.db
    }

    /// Whether the database holds the query index tables (as this version makes them: a store
    /// indexed by an older one, without `query_text_pending`, is brought up to date by
    /// `Store.enableQueryIndexes()` before it is used or kept).
    static func tablesExist(_ db: Database) throws -> Bool {
        try db.cached("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'query_text_pending')")
            .first { $0.int(0) != 0 } ?? false
    }

    /// How many times the query indexes were rewritten other than by applies (changes removed
    /// and their records rebuilt, a `records` row deleted, the indexes made or brought up to
    /// date): a reader holding them in memory (`QueryMirror`) reads them again when it changes.
    static func generation(_ db: Database) throws -> Int64 {
        try db.cached("SELECT value FROM meta WHERE key = 'query_index_generation'").first { $0.int(0) } ?? 0
    }

    /// The statement advancing `generation` (also run by the trigger that removes an incident's
    /// entries with its `records` row).
    static let advanceGenerationSQL = """
        INSERT INTO meta (key, value) VALUES ('query_index_generation', 1)
        ON CONFLICT(key) DO UPDATE SET value = value + 1
        """

    /// Advances `generation` (inside the writing transaction).
    static func advanceGeneration(_ db: Database) throws { try db.cached(advanceGenerationSQL).run() }

    /// The creating replica (`replicas.idx`) of a record: the first entry of its `records.log`.
    static func creator(fromLog log: UnsafeBufferPointer<UInt8>) -> Int64? {
        var value: Int64 = 0
        var digits = 0
        for byte in log {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { break }
            value = value &* 10 &+ Int64(byte - UInt8(ascii: "0"))
            digits += 1
        }
        return digits > 0 ? value : nil
    }

    /// A searched field's value as the text index holds it: lowercased, in NFC unless ASCII;
    /// the lowercased value itself when NFC changed it (the text rule is asked about that one:
    /// a search may match a character's parts, which NFC composes away); whether it is ASCII.
    static func searchText(_ value: String) -> (text: String, raw: String?, ascii: Bool) {
        searchText(lowercased: value.lowercased())
    }

    /// `searchText` of a value already lowercased.
    static func searchText(lowercased lower: String) -> (text: String, raw: String?, ascii: Bool) {
        if lower.utf8.allSatisfy({ $0 < 0x80 }) { return (lower, nil, true) }
        let composed = lower.precomposedStringWithCanonicalMapping
        return (composed, composed.utf8.elementsEqual(lower.utf8) ? nil : lower, false)
    }

    /// The `query_text_rows` row id of field `field` (its position in `searchedFields`) of the
    /// incident at `rowid`.
    static func textRow(_ rowid: Int64, field: Int, ascii: Bool) -> Int64 { rowid &* 16 &+ (ascii ? 0 : 8) &+ Int64(field) }

    private struct TextRow: Equatable {
        var text: String
        var raw: String?
    }

    private struct Keys: Equatable {
        var id: String
        var createdMs: Int64
        var eventType: String?
        var status: String?
        var deleted: Bool
        var conflict: Bool
        var lat: Double?
        var lon: Double?
        var occurredMs: Int64?
        var creator: Int64?
    }

    /// Writes the index entries of one incident (its `records` row's rowid and visible fields);
    /// `isNew`: the row was just inserted into `records`.
    func write(
        rowid: Int64, id: String, fields: [String: JSONValue], deleted: Bool, conflict: Bool, createdMs: Int64, updatedMs: Int64,
        updatedSeq: Int64, creator: Int64?, textChanged: Bool = true, isNew: Bool = false
    ) throws {
        let keys = Keys(
            id: id, createdMs: createdMs, eventType: fields["event_type"]?.stringValue, status: fields["status"]?.stringValue,
            deleted: deleted, conflict: conflict, lat: fields["lat"]?.doubleValue, lon: fields["lon"]?.doubleValue,
            occurredMs: fields["occurred_at"]?.stringValue.flatMap(DateText.epochMilliseconds), creator: creator)
        // A record new to `records` has no index row: its rowid's entries left with the row that
        // held it before (`query_incidents_forget`).
        let old =
            isNew
            ? nil
            : try db.cached(
                """
                SELECT id, created_ms, event_type, status, deleted, conflict, lat, lon, occurred_ms, creator
                FROM query_incidents WHERE rowid = ?
                """
            ).bind(.integer(rowid)).first { row in
                Keys(
                    id: row.text(0) ?? "", createdMs: row.int(1), eventType: row.text(2), status: row.text(3),
                    deleted: row.int(4) != 0,
                    conflict: row.int(5) != 0, lat: row.isNull(6) ? nil : row.double(6), lon: row.isNull(7) ? nil : row.double(7),
                    occurredMs: row.isNull(8) ? nil : row.int(8), creator: row.isNull(9) ? nil : row.int(9))
            }
        if let old, old == keys {
            // Only the times moved: no index of the table is touched.
            try db.cached("UPDATE query_incidents SET updated_ms = ?, updated_seq = ? WHERE rowid = ?")
                .bind(.integer(updatedMs), .integer(updatedSeq), .integer(rowid)).run()
        } else if let old, old.id == keys.id {
            // Only the columns that changed, so only their indexes are touched.
            var set = ["updated_ms = ?", "updated_seq = ?"]
            var changed: [SQLValue] = [.integer(updatedMs), .integer(updatedSeq)]
            func column(_ name: String, _ differs: Bool, _ value: SQLValue) {
                guard differs else { return }
                set.append("\(name) = ?")
                changed.append(value)
            }
            column("created_ms", old.createdMs != keys.createdMs, .integer(createdMs))
            column("event_type", old.eventType != keys.eventType, keys.eventType.map(SQLValue.text) ?? .null)
            column("status", old.status != keys.status, keys.status.map(SQLValue.text) ?? .null)
            column("deleted", old.deleted != keys.deleted, .integer(deleted ? 1 : 0))
            column("conflict", old.conflict != keys.conflict, .integer(conflict ? 1 : 0))
            column("lat", old.lat != keys.lat, keys.lat.map(SQLValue.real) ?? .null)
            column("lon", old.lon != keys.lon, keys.lon.map(SQLValue.real) ?? .null)
            column("occurred_ms", old.occurredMs != keys.occurredMs, keys.occurredMs.map(SQLValue.integer) ?? .null)
            column("creator", old.creator != keys.creator, creator.map(SQLValue.integer) ?? .null)
            try db.cached("UPDATE query_incidents SET \(set.joined(separator: ", ")) WHERE rowid = ?")
                .bind(changed + [.integer(rowid)]).run()
        } else {
            try db.cached(
                """
                INSERT OR REPLACE INTO query_incidents (rowid, id, created_ms, updated_ms, updated_seq, event_type, status,
                  deleted, conflict, lat, lon, occurred_ms, creator) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
            ).bind(
                .integer(rowid), .text(id), .integer(createdMs), .integer(updatedMs), .integer(updatedSeq),
                keys.eventType.map(SQLValue.text) ?? .null, keys.status.map(SQLValue.text) ?? .null, .integer(deleted ? 1 : 0),
                .integer(conflict ? 1 : 0), keys.lat.map(SQLValue.real) ?? .null, keys.lon.map(SQLValue.real) ?? .null,
                keys.occurredMs.map(SQLValue.integer) ?? .null, creator.map(SQLValue.integer) ?? .null
            ).run()
        }
        // A record none of whose searched fields was written, whose point stayed, keeps its text
        // and R*Tree entries; the others' are written later (`Store.drainQueryTextIndex`), off
        // the apply path (the R*Tree only speeds a box up: `q.lat` and `q.lon` decide).
        let pointMoved = old?.lat != keys.lat || old?.lon != keys.lon
        if textChanged || pointMoved || old == nil || old?.id != id {
            try db.cached("INSERT OR IGNORE INTO query_text_pending (rowid) VALUES (?)").bind(.integer(rowid)).run()
        }
    }

    /// Rewrites the R*Tree entry of the incident at `rowid` from its `query_incidents` point
    /// (none when it has none, or no index row), unless the entry is its point's already: most
    /// pending incidents wait for their text only.
    func writePoint(rowid: Int64) throws {
        // An entry that holds the point (bounds rounded outwards to 32 bits) finds it for every
        // box that holds it, as a fresh one would; `q.lat` and `q.lon` decide the rest.
        let current =
            try db.cached(
                """
                SELECT EXISTS (SELECT 1 FROM query_geo g JOIN query_incidents q ON q.rowid = g.id WHERE g.id = ?1
                  AND g.min_lon <= q.lon AND g.max_lon >= q.lon AND g.min_lat <= q.lat AND g.max_lat >= q.lat)
                """
            ).bind(.integer(rowid)).first { $0.int(0) != 0 } ?? false
        if current { return }
        try db.cached("DELETE FROM query_geo WHERE id = ?").bind(.integer(rowid)).run()
        try db.cached(
            """
            INSERT INTO query_geo (id, min_lon, max_lon, min_lat, max_lat)
            SELECT rowid, lon, lon, lat, lat FROM query_incidents WHERE rowid = ? AND lat IS NOT NULL AND lon IS NOT NULL
            """
        ).bind(.integer(rowid)).run()
    }

    /// Rewrites the text rows of the searched fields whose value changed (no fields: removes them).
    func writeText(rowid: Int64, fields: [String: JSONValue]) throws {
        // Read even for a new index row: rows left by a record once at this rowid are replaced.
        var held: [Int64: TextRow] = [:]
        try db.cached("SELECT rowid, text, raw FROM query_text_rows WHERE rowid BETWEEN ? AND ?")
            .bind(.integer(rowid &* 16), .integer(rowid &* 16 &+ 15)).forEach {
                held[$0.int(0)] = TextRow(text: $0.text(1) ?? "", raw: $0.text(2))
            }
        var wanted: [Int64: TextRow] = [:]
        for (position, name) in IncidentFilter.searchedFields.enumerated() {
            guard let value = fields[name]?.stringValue, !value.isEmpty else { continue }
            let lower = value.lowercased()
            // A field held already (its lowercased value unchanged) is not normalised again.
            let nonASCII = QueryIndexWriter.textRow(rowid, field: position, ascii: false)
            if let kept = held[nonASCII], (kept.raw ?? kept.text) == lower {
                wanted[nonASCII] = kept
                continue
            }
            let (text, raw, ascii) = QueryIndexWriter.searchText(lowercased: lower)
            wanted[QueryIndexWriter.textRow(rowid, field: position, ascii: ascii)] = TextRow(text: text, raw: raw)
        }
        for (row, old) in held where wanted[row] != old {
            try db.cached("INSERT INTO query_text (query_text, rowid, text) VALUES ('delete', ?, ?)")
                .bind(.integer(row), .text(old.text)).run()
            try db.cached("DELETE FROM query_text_rows WHERE rowid = ?").bind(.integer(row)).run()
        }
        for (row, new) in wanted where held[row] != new {
            try db.cached("INSERT INTO query_text_rows (rowid, text, raw) VALUES (?, ?, ?)")
                .bind(.integer(row), .text(new.text), new.raw.map(SQLValue.text) ?? .null).run()
            try db.cached("INSERT INTO query_text (rowid, text) VALUES (?, ?)").bind(.integer(row), .text(new.text)).run()
        }
    }

    /// Removes an incident's entries (its record is gone).
    func remove(rowid: Int64) throws {
        try db.cached(
            """
            INSERT INTO query_text (query_text, rowid, text)
            SELECT 'delete', rowid, text FROM query_text_rows WHERE rowid BETWEEN ?1 * 16 AND ?1 * 16 + 15
            """
        ).bind(.integer(rowid)).run()
        try db.cached("DELETE FROM query_text_rows WHERE rowid BETWEEN ?1 * 16 AND ?1 * 16 + 15").bind(.integer(rowid)).run()
        try db.cached("DELETE FROM query_geo WHERE id = ?").bind(.integer(rowid)).run()
        try db.cached("DELETE FROM query_incidents WHERE rowid = ?").bind(.integer(rowid)).run()
    }
}
