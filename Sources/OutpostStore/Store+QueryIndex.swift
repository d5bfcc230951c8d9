import Foundation
import OutpostCore

/// The server's query indexes: what analysts filter incidents by, kept beside `records` so that a
/// filtered page reads a few index entries instead of decoding every incident's state.
///
/// They are not a `Schema/` migration on purpose: migrations run on every store, devices
/// included, and a device store is encrypted (`Store+Sealing`) while these tables hold field
/// values (titles, narratives, places) in plaintext. Only the server's store enables them
/// (`SQLiteBackend` calls `enableQueryIndexes()` when it opens its store); an encrypted store
/// refuses to. See `Schema/query_indexes.md`.
///
/// - `query_incidents`: one row per incident, keyed by the `records` row's rowid: order keys,
///   type, status, flags, place, `occurred_at` in ms and the creating replica (`replicas.idx`),
///   with an index per filter that also holds `deleted` and the creation time, so a count reads
///   only the index and a first page stops after the page's entries (the id, which orders equal
///   times, is left out of them: it doubled what an apply wrote into them, and SQLite sorts only
///   the runs of equal times by it).
/// - `query_geo`: an R*Tree of the incidents' points.
/// - `query_text`: an FTS5 trigram index over `query_text_rows`, one row per searched field of
///   an incident, holding the field lowercased (and, unless ASCII, in NFC; `raw` keeps the
///   lowercased value when NFC changed it, for the text rule to confirm on). Row ids are
///   `rowid × 16 + field` for ASCII text and `rowid × 16 + 8 + field` for other text: a trigram
///   match in ASCII text of an ASCII needle is the old substring match exactly, other matches are
///   confirmed.
///
/// - `query_text_pending`: the incidents whose searched text or point changed (or that are new)
///   since `query_text` and `query_geo` last took them (their `records` rowids).
///
/// Every apply keeps `query_incidents` current inside its own transaction
/// (`ChangeApplier.finish()` through `QueryIndexWriter`) and, for the text and the point, only
/// adds the incident to `query_text_pending` (a cheap insert in the same transaction, so a crash
/// never leaves a change unknown). `drainQueryTextIndex(limit:)` writes their text and R*Tree
/// entries later, off the apply path, in batches (the server after its sync batches, and at
/// start); until then a text query decides pending incidents by their current state and a box
/// takes them as candidates decided by their point, so no answer is ever stale. A trigger
/// removes an incident's entries when its `records` row goes.
extension Store {
    /// The statements that make the query indexes (idempotent).
    static let queryIndexSchema = """
        CREATE TABLE IF NOT EXISTS query_incidents (
            rowid       INTEGER PRIMARY KEY,
            id          TEXT NOT NULL,
            created_ms  INTEGER NOT NULL,
            updated_ms  INTEGER NOT NULL,
            updated_seq INTEGER NOT NULL,
            event_type  TEXT,
            status      TEXT,
            deleted     INTEGER NOT NULL,
            conflict    INTEGER NOT NULL,
            lat         REAL,
            lon         REAL,
            occurred_ms INTEGER,
            creator     INTEGER
        ) STRICT;
        DROP INDEX IF EXISTS query_incidents_created;
        DROP INDEX IF EXISTS query_incidents_type;
        DROP INDEX IF EXISTS query_incidents_status;
        DROP INDEX IF EXISTS query_incidents_creator;
        DROP INDEX IF EXISTS query_incidents_conflict;
        CREATE INDEX IF NOT EXISTS query_incidents_by_created ON query_incidents(deleted, created_ms);
        CREATE INDEX IF NOT EXISTS query_incidents_by_type ON query_incidents(event_type, deleted, created_ms);
        CREATE INDEX IF NOT EXISTS query_incidents_by_status ON query_incidents(status, deleted, created_ms);
        CREATE INDEX IF NOT EXISTS query_incidents_occurred ON query_incidents(occurred_ms, deleted) WHERE occurred_ms IS NOT NULL;
        CREATE INDEX IF NOT EXISTS query_incidents_by_creator ON query_incidents(creator, deleted, created_ms);
        CREATE INDEX IF NOT EXISTS query_incidents_by_conflict ON query_incidents(deleted, created_ms) WHERE conflict = 1;
        CREATE VIRTUAL TABLE IF NOT EXISTS query_geo USING rtree(id, min_lon, max_lon, min_lat, max_lat);
        CREATE TABLE IF NOT EXISTS query_text_rows (rowid INTEGER PRIMARY KEY, text TEXT NOT NULL, raw TEXT) STRICT;
        CREATE VIRTUAL TABLE IF NOT EXISTS query_text USING fts5(
            text, content = 'query_text_rows', content_rowid = 'rowid', tokenize = 'trigram');
        CREATE TABLE IF NOT EXISTS query_text_pending (rowid INTEGER PRIMARY KEY) STRICT;
        DROP TRIGGER IF EXISTS query_incidents_forget;
        CREATE TRIGGER query_incidents_forget AFTER DELETE ON records BEGIN
            INSERT INTO query_text (query_text, rowid, text)
                SELECT 'delete', rowid, text FROM query_text_rows WHERE rowid BETWEEN old.rowid * 16 AND old.rowid * 16 + 15;
            DELETE FROM query_text_rows WHERE rowid BETWEEN old.rowid * 16 AND old.rowid * 16 + 15;
            DELETE FROM query_text_pending WHERE rowid = old.rowid;
            DELETE FROM query_geo WHERE id = old.rowid;
            DELETE FROM query_incidents WHERE rowid = old.rowid;
            \(QueryIndexWriter.advanceGenerationSQL);
        END;
        """

    /// The tables and trigger the query indexes consist of.
    public static let queryIndexTables = [
        "query_incidents", "query_geo", "query_text_rows", "query_text", "query_text_pending", "query_incidents_forget",
    ]

    /// Makes the query indexes when missing and brings them up to date with `records` (the first
    /// time: every incident; later: those written by a process that did not keep them). Only for
    /// the server's plaintext store: an encrypted store refuses (`.invalidState`). Then indexes
    /// the text of every pending incident (`drainQueryTextIndex`), in batches.
    public func enableQueryIndexes() throws(StoreError) {
        guard cipher == nil else {
            throw StoreError(.invalidState, "an encrypted store never holds query indexes (they would hold plaintext)")
        }
        try write {
            try db.execute(Store.queryIndexSchema)
            guard let writer = try QueryIndexWriter(store: self) else { return }
            // Incidents whose index row is missing or older than the record (a write by a process
            // that did not keep the indexes), then index rows whose record is gone.
            var stale: [Int64] = []
            try db.prepare(
                """
                SELECT r.rowid FROM records r LEFT JOIN query_incidents q ON q.rowid = r.rowid
                WHERE r.collection = 'incidents' AND (q.rowid IS NULL OR q.updated_seq <> r.updated_seq OR q.id <> r.id)
                """
            ).forEach { stale.append($0.int(0)) }
            let load = try db.prepare(
                "SELECT id, state, deleted, conflict, created_ms, updated_ms, updated_seq, log FROM records WHERE rowid = ?")
            for rowid in stale {
                try load.bind(.integer(rowid)).first { row in
                    let id = row.text(0) ?? ""
                    let state = try decodeState(row, column: 1, key: RecordKey(id: id))
                    try writer.write(
                        rowid: rowid, id: id, fields: state.visibleFields, deleted: row.int(2) != 0, conflict: row.int(3) != 0,
                        createdMs: row.int(4), updatedMs: row.int(5), updatedSeq: row.int(6),
                        creator: row.withBytes(7) { QueryIndexWriter.creator(fromLog: $0) })
                }
                load.reset()
            }
            var orphans: [Int64] = []
            try db.prepare("SELECT q.rowid FROM query_incidents q LEFT JOIN records r ON r.rowid = q.rowid WHERE r.rowid IS NULL")
                .forEach { orphans.append($0.int(0)) }
            for rowid in orphans { try writer.remove(rowid: rowid) }
            if !stale.isEmpty || !orphans.isEmpty { try QueryIndexWriter.advanceGeneration(db) }
        }
        while try drainQueryTextIndex(limit: Store.queryTextDrainBatch) > 0 {}
    }

    /// How many pending incidents one transaction of `enableQueryIndexes` indexes the text of.
    public static let queryTextDrainBatch = 5_000

    /// Indexes the searched text and the point (R*Tree) of up to `limit` pending incidents
    /// (`query_text_pending`) in one transaction and takes them off the list; returns how many it
    /// took (0: none pending, or no query indexes). An incident whose record is gone loses its
    /// entries.
    @discardableResult
    public func drainQueryTextIndex(limit: Int) throws(StoreError) -> Int {
        try write { () throws -> Int in
            guard let writer = try QueryIndexWriter(store: self) else { return 0 }
            var pending: [Int64] = []
            try db.cached("SELECT rowid FROM query_text_pending ORDER BY rowid LIMIT ?").bind(.integer(Int64(limit)))
                .forEach { pending.append($0.int(0)) }
            let load = try db.cached("SELECT id, state FROM records WHERE rowid = ? AND collection = 'incidents'")
            let done = try db.cached("DELETE FROM query_text_pending WHERE rowid = ?")
            for rowid in pending {
                let fields = try load.bind(.integer(rowid)).first { row in
                    try decodeState(row, column: 1, key: RecordKey(id: row.text(0) ?? "")).visibleFields
                }
                try writer.writeText(rowid: rowid, fields: fields ?? [:])
                try writer.writePoint(rowid: rowid)
                try done.bind(.integer(rowid)).run()
            }
            return pending.count
        }
    }

    /// How many incidents wait for their text to be indexed (0 without query indexes).
    public func pendingQueryText() throws(StoreError) -> Int {
        try read { () throws -> Int in
            guard try QueryIndexWriter.tablesExist(db) else { return 0 }
            return try db.cached("SELECT count(*) FROM query_text_pending").first { Int($0.int(0)) } ?? 0
        }
    }

    /// Drops the query indexes (a server started without them: kept by nobody, they would go
    /// stale). Always safe: `enableQueryIndexes()` makes them again.
    public func disableQueryIndexes() throws(StoreError) {
        try write {
            try db.execute("DROP TRIGGER IF EXISTS query_incidents_forget")
            for table in ["query_text", "query_text_rows", "query_text_pending", "query_geo", "query_incidents"] {
                try db.execute("DROP TABLE IF EXISTS \(table)")
            }
        }
    }

    /// Whether this store holds query indexes (only a server's store does).
    public func hasQueryIndexes() throws(StoreError) -> Bool {
        try read { try QueryIndexWriter.tablesExist(db) }
    }
}
