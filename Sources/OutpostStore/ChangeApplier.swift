import OutpostCore

/// Applies changes to the store inside one write transaction, by the sync spec's rules.
///
/// Local edits and remote changes both come through `apply(_:)`. Record states are cached for
/// the transaction and written once in `finish()`.
final class ChangeApplier {
    /// A class, so the cache's entry is mutated in place (no copy-on-write of the state).
    private final class CachedRecord {
        var state: RecordState
        var createdMs: Int64
        var updatedMs: Int64
        var updatedSeq: Int64
        var dirty = false
        var mayHavePending: Bool?

        init(state: RecordState, createdMs: Int64, updatedMs: Int64, updatedSeq: Int64) {
            self.state = state
            self.createdMs = createdMs
            self.updatedMs = updatedMs
            self.updatedSeq = updatedSeq
        }
    }

    private let store: Store
    private let db: Database
    private var records: [RecordKey: CachedRecord] = [:]
    private var touchedReplicas: Set<Int64> = []
    private var nextSeq: Int64
    private let receivedMs: Int64
    private(set) var report = ApplyReport()
    /// Whether any change is held back in the store (or this batch); when not, no record needs a look.
    private var anyHeldBack: Bool

    init(store: Store, receivedMs: Int64) throws {
        self.store = store
        self.db = store.db
        self.receivedMs = receivedMs
        nextSeq = try db.cached("SELECT coalesce(max(seq), 0) + 1 FROM changes").first { $0.int(0) } ?? 1
        anyHeldBack = try db.cached("SELECT EXISTS (SELECT 1 FROM changes WHERE applied = 0)").first { $0.int(0) != 0 } ?? true
    }

    /// Makes room in the record cache for `count` records (a bulk import touches each once).
    func reserveCapacity(_ count: Int) {
        records.reserveCapacity(count)
    }

    /// The current state of a record (empty when it has no writes yet).
    func state(of key: RecordKey) throws -> RecordState {
        try load(key).state
    }

    /// Whether the record has any write.
    func exists(_ key: RecordKey) throws -> Bool {
        !(try load(key).state.fields.isEmpty)
    }

    /// Applies, holds back or ignores one change.
    func apply(_ change: Change) throws {
        let replicaIdx = try store.index(of: change.dot.replica, reporter: change.reporter)
        let record = try load(change.record)
        switch record.state.decide(change) {
        case .duplicate:
            report.duplicates += 1
        case .holdBack:
            try insert(change, replicaIdx: replicaIdx, applied: false)
            if db.changes > 0 {
                nextSeq += 1
                anyHeldBack = true
                report.heldBack += 1
                touchedReplicas.insert(replicaIdx)
                record.mayHavePending = true
            } else {
                report.duplicates += 1
            }
        case .apply:
            try insert(change, replicaIdx: replicaIdx, applied: true)
            if db.changes == 0 {
                // It was held back earlier: move it to the end of the log as applied.
                try db.cached("UPDATE changes SET seq = ?, applied = 1 WHERE replica = ? AND counter = ?")
                    .bind(.integer(nextSeq), .integer(replicaIdx), .integer(Int64(change.dot.counter))).run()
            }
            touchedReplicas.insert(replicaIdx)
            applyToState(change, record: record)
            report.applied += 1
            try releaseHeldBack(for: change.record)
        }
    }

    private func applyToState(_ change: Change, record: CachedRecord) {
        if record.state.fields.isEmpty { record.createdMs = change.tag.ms }
        record.state.apply(change)
        record.updatedMs = max(record.updatedMs, change.tag.ms)
        record.updatedSeq = nextSeq
        record.dirty = true
        nextSeq += 1
    }

    private func insert(_ change: Change, replicaIdx: Int64, applied: Bool) throws {
        let body = change.encodedJSON()
        try db.cached(
            "INSERT OR IGNORE INTO changes (seq, replica, counter, collection, record, ms, body, applied, received_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ).bind(
            .integer(nextSeq), .integer(replicaIdx), .integer(Int64(change.dot.counter)), .text(change.record.collection),
            .text(change.record.id), .integer(change.tag.ms), .blob(body), .integer(applied ? 1 : 0), .integer(receivedMs)
        ).run()
    }

    /// Applies held-back changes of a record whose deps are now met, until none is ready.
    private func releaseHeldBack(for key: RecordKey) throws {
        guard anyHeldBack, let record = records[key] else { return }
        if record.mayHavePending == nil {
            record.mayHavePending =
                try db.cached("SELECT 1 FROM changes WHERE applied = 0 AND collection = ? AND record = ? LIMIT 1")
                .bind(.text(key.collection), .text(key.id)).first { _ in true } ?? false
        }
        guard record.mayHavePending == true else { return }
        var progress = true
        while progress {
            progress = false
            var held: [(seq: Int64, change: Change)] = []
            try db.cached("SELECT seq, body FROM changes WHERE applied = 0 AND collection = ? AND record = ? ORDER BY seq")
                .bind(.text(key.collection), .text(key.id)).forEach { row in
                    let json = try row.withBytes(1) { try JSONParser.parse($0) }
                    held.append((row.int(0), try Change(json: json)))
                }
            if held.isEmpty {
                record.mayHavePending = false
                break
            }
            for (seq, change) in held {
                switch record.state.decide(change) {
                case .holdBack: continue
                case .duplicate:
                    try db.cached("UPDATE changes SET applied = 1 WHERE seq = ?").bind(.integer(seq)).run()
                case .apply:
                    try db.cached("UPDATE changes SET seq = ?, applied = 1 WHERE seq = ?")
                        .bind(.integer(nextSeq), .integer(seq)).run()
                    applyToState(change, record: record)
                    report.applied += 1
                    report.released += 1
                    progress = true
                }
            }
        }
    }

    private func load(_ key: RecordKey) throws -> CachedRecord {
        if let cached = records[key] { return cached }
        let loaded =
            try db.cached("SELECT state, created_ms, updated_ms, updated_seq FROM records WHERE collection = ? AND id = ?")
            .bind(.text(key.collection), .text(key.id)).first { row -> CachedRecord in
                CachedRecord(
                    state: try store.decodeState(row, column: 0), createdMs: row.int(1), updatedMs: row.int(2), updatedSeq: row.int(3))
            }
        let record = loaded ?? CachedRecord(state: RecordState(), createdMs: 0, updatedMs: 0, updatedSeq: 0)
        records[key] = record
        return record
    }

    /// Writes every changed record and advances the per-replica contiguous counters.
    func finish() throws {
        let upsert = try db.cached(
            """
            INSERT INTO records (collection, id, state, visible, deleted, conflict, created_ms, updated_ms, updated_seq)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(collection, id) DO UPDATE SET state = excluded.state, visible = excluded.visible,
              deleted = excluded.deleted, conflict = excluded.conflict, created_ms = excluded.created_ms,
              updated_ms = excluded.updated_ms, updated_seq = excluded.updated_seq
            """)
        let numbering = store.numbering
        var visible: [UInt8] = []
        for (key, record) in records where record.dirty {
            let state = record.state
            let conflicted = state.hasConflict || state.isKeptAliveByConcurrentEdit
            if conflicted { report.conflictedRecords += 1 }
            visible.removeAll(keepingCapacity: true)
            state.writeVisibleJSON(to: &visible)
            try upsert.bind(.text(key.collection), at: 1)
            try upsert.bind(.text(key.id), at: 2)
            try upsert.bind(.blob(try state.encodedBinary(numbering: numbering)), at: 3)
            try upsert.bindText(utf8: visible, at: 4)
            try upsert.bind(.integer(state.isDeleted ? 1 : 0), at: 5)
            try upsert.bind(.integer(conflicted ? 1 : 0), at: 6)
            try upsert.bind(.integer(record.createdMs), at: 7)
            try upsert.bind(.integer(record.updatedMs), at: 8)
            try upsert.bind(.integer(record.updatedSeq), at: 9)
            try upsert.run()
        }
        for idx in touchedReplicas { try store.advanceContiguous(replicaIdx: idx) }
    }
}

extension Store {
    /// The local index of a replica, adding it to the replicas table when new.
    func index(of replica: ReplicaID, reporter: String?) throws -> Int64 {
        if let idx = replicaIndex[replica] { return idx }
        if let (idx, known) = try db.cached("SELECT idx, reporter FROM replicas WHERE id = ?").bind(.blob(replica.bytes))
            .first({ ($0.int(0), $0.text(1)) })
        {
            // Added by another connection: cache its reporter too (stored states leave it out).
            replicaIndex[replica] = idx
            replicaByIndex[idx] = replica
            reporterByIndex[idx] = known
            return idx
        }
        try db.cached("INSERT INTO replicas (id, reporter) VALUES (?, ?)")
            .bind(.blob(replica.bytes), reporter.map(SQLValue.text) ?? .null).run()
        let idx = db.lastInsertRowID
        replicaIndex[replica] = idx
        replicaByIndex[idx] = replica
        reporterByIndex[idx] = reporter
        return idx
    }

    /// The reporter recorded for a local index, reloading the table when another process added it.
    func reporter(forIndex idx: Int64) throws -> String? {
        if replicaByIndex[idx] == nil { try loadReplicas() }
        return reporterByIndex[idx]
    }

    /// The replicas table as the numbering of the compact record state.
    var numbering: StoreReplicaNumbering { StoreReplicaNumbering(store: self) }

    /// Decodes a stored record state.
    func decodeState(_ row: Row, column: Int32) throws -> RecordState {
        try row.withBytes(column) { try RecordState(binary: $0, numbering: numbering) }
    }
}

/// The numbering of replicas by their index in a store's `replicas` table.
struct StoreReplicaNumbering: ReplicaNumbering {
    let store: Store

    func number(of replica: ReplicaID) throws -> Int64 { try store.index(of: replica, reporter: nil) }
    func replica(numbered number: Int64) throws -> ReplicaID { try store.replicaID(forIndex: number) }
    func reporter(numbered number: Int64) throws -> String? { try store.reporter(forIndex: number) }
}

extension Store {

    /// The replica id of a local index, reloading the table when another process added it.
    func replicaID(forIndex idx: Int64) throws -> ReplicaID {
        if let id = replicaByIndex[idx] { return id }
        try loadReplicas()
        guard let id = replicaByIndex[idx] else { throw StoreError(.storage, "change log names unknown replica index \(idx)") }
        return id
    }

    /// Moves a replica's contiguous counter past every change now present.
    func advanceContiguous(replicaIdx: Int64) throws {
        var contiguous = try db.cached("SELECT contiguous FROM replicas WHERE idx = ?").bind(.integer(replicaIdx))
            .first { $0.int(0) } ?? 0
        let start = contiguous
        let next = try db.cached("SELECT counter FROM changes WHERE replica = ? AND counter > ? ORDER BY counter")
        try next.bind(.integer(replicaIdx), .integer(contiguous))
        try next.forEach { row in
            if row.int(0) == contiguous + 1 { contiguous += 1 }
        }
        if contiguous != start {
            try db.cached("UPDATE replicas SET contiguous = ? WHERE idx = ?").bind(.integer(contiguous), .integer(replicaIdx)).run()
        }
    }
}
