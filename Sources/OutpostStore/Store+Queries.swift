import Crypto
import OutpostCore

extension Store {
    static let recordColumns = "id, state, deleted, conflict, created_ms, updated_ms, updated_seq"

    /// An incident from a row of `recordColumns`: its visible values come from the stored state.
    func incident(from row: Row) throws -> IncidentRecord {
        let state = try decodeState(row, column: 1, key: RecordKey(id: row.text(0) ?? ""))
        return IncidentRecord(
            id: row.text(0) ?? "", fields: state.visibleFields, deleted: row.int(2) != 0, conflict: row.int(3) != 0,
            createdMs: row.int(4), updatedMs: row.int(5), updatedSeq: row.int(6))
    }

    /// Incidents, oldest first; deleted ones only with `includeDeleted`.
    public func incidents(includeDeleted: Bool = false, limit: Int? = nil) throws(StoreError) -> [IncidentRecord] {
        try read {
            var out: [IncidentRecord] = []
            let sql =
                "SELECT \(Store.recordColumns) FROM records WHERE collection = 'incidents'"
                + (includeDeleted ? "" : " AND deleted = 0") + " ORDER BY created_ms, id" + (limit.map { " LIMIT \($0)" } ?? "")
            try db.cached(sql).forEach { out.append(try incident(from: $0)) }
            return out
        }
    }

    /// Calls `body` for each visible incident without holding them all in memory.
    public func forEachIncident(includeDeleted: Bool = false, _ body: (IncidentRecord) throws -> Void) throws(StoreError) {
        try read {
            let sql =
                "SELECT \(Store.recordColumns) FROM records WHERE collection = 'incidents'"
                + (includeDeleted ? "" : " AND deleted = 0") + " ORDER BY created_ms, id"
            try db.prepare(sql).forEach { try body(try incident(from: $0)) }
        }
    }

    /// One page of incidents in (created ms, id) order, chosen in SQL so that only the page's
    /// states are decoded, with the number of all incidents that pass the same filters and
    /// whether more follow the page. `after` (a keyset cursor) takes precedence over `offset`.
    public func incidentPage(
        includeDeleted: Bool, updatedAfterMs: Int64?, after: (createdMs: Int64, id: String)?, offset: Int, limit: Int
    ) throws(StoreError) -> (incidents: [IncidentRecord], total: Int, more: Bool) {
        try read {
            var filter = "collection = 'incidents'"
            var values: [SQLValue] = []
            if !includeDeleted { filter += " AND deleted = 0" }
            if let updatedAfterMs {
                filter += " AND updated_ms > ?"
                values.append(.integer(updatedAfterMs))
            }
            let total = try db.cached("SELECT count(*) FROM records WHERE \(filter)").bind(values).first { Int($0.int(0)) } ?? 0
            var pageFilter = filter
            var pageValues = values
            if let after {
                pageFilter += " AND (created_ms > ? OR (created_ms = ? AND id > ?))"
                pageValues += [.integer(after.createdMs), .integer(after.createdMs), .text(after.id)]
            }
            pageValues += [.integer(Int64(limit) + 1), .integer(after == nil ? Int64(offset) : 0)]
            var page: [IncidentRecord] = []
            try db.cached(
                "SELECT \(Store.recordColumns) FROM records WHERE \(pageFilter) ORDER BY created_ms, id LIMIT ? OFFSET ?"
            )
            .bind(pageValues).forEach { page.append(try incident(from: $0)) }
            let more = page.count > limit
            if more { page.removeLast() }
            return (page, total, more)
        }
    }

    /// One incident (deleted ones too), or nil when the id is unknown.
    public func incident(id: String) throws(StoreError) -> IncidentRecord? {
        try read {
            try db.cached("SELECT \(Store.recordColumns) FROM records WHERE collection = 'incidents' AND id = ?")
                .bind(.text(id)).first { try incident(from: $0) }
        }
    }

    /// The merged state of a record, or nil when unknown.
    public func recordState(id: String) throws(StoreError) -> RecordState? {
        try read {
            try db.cached("SELECT state FROM records WHERE collection = 'incidents' AND id = ?").bind(.text(id)).first { row in
                try decodeState(row, column: 0, key: RecordKey(id: id))
            }
        }
    }

    /// Every change to a record, in log order; held-back changes last.
    public func history(id: String) throws(StoreError) -> [HistoryEntry] {
        try read { try historyRows(id: id).map(\.entry) }
    }

    /// Every change to a record as `history` gives it, with its author as the roster names it
    /// (never the change's own `reporter` text) and whether its signature verified.
    public func attributedHistory(id: String) throws(StoreError) -> [AttributedChange] {
        try read {
            let names = try rosterNames()
            return try historyRows(id: id).map {
                AttributedChange(entry: $0.entry, author: names[$0.entry.change.dot.replica], verified: $0.verified)
            }
        }
    }

    /// The history rows of a record (inside a read): each change, whether applied, and its `verified` column.
    private func historyRows(id: String) throws -> [(entry: HistoryEntry, verified: Bool?)] {
        var out: [(entry: HistoryEntry, verified: Bool?)] = []
        let log =
            try db.cached("SELECT log FROM records WHERE collection = 'incidents' AND id = ?").bind(.text(id))
            .first { $0.text(0) } ?? nil
        let byDot = try db.cached("SELECT \(Store.changeColumns), verified FROM changes WHERE replica = ? AND counter = ?")
        for entry in (log ?? "").split(separator: " ") {
            let parts = entry.split(separator: ".")
            guard parts.count == 2, let idx = Int64(parts[0]), let counter = Int64(parts[1]) else {
                throw StoreError(.storage, "incident \(id) has a damaged change list (\(entry))")
            }
            guard
                let row = try byDot.bind(.integer(idx), .integer(counter)).first({ row in
                    (try change(fromRow: row, at: 0), Store.verification(row, column: 5))
                })
            else { throw StoreError(.storage, "incident \(id) lists a change the log does not hold (\(entry))") }
            out.append((HistoryEntry(change: row.0, applied: true), row.1))
        }
        try db.cached(
            "SELECT \(Store.changeColumns), verified FROM changes WHERE applied = 0 AND collection = 'incidents' AND record = ? ORDER BY seq"
        )
        .bind(.text(id)).forEach { row in
            let change = try change(fromRow: row, at: 0)
            out.append((HistoryEntry(change: change, applied: false), Store.verification(row, column: 5)))
        }
        return out
    }

    /// The `verified` column: true (verified), nil (author unknown), false (legacy unsigned).
    private static func verification(_ row: Row, column: Int32) -> Bool? {
        row.isNull(column) ? nil : row.int(column) != 0
    }

    /// The roster's reporter name for each replica it names (inside a read).
    func rosterNames() throws -> [ReplicaID: String] {
        var out: [ReplicaID: String] = [:]
        try db.cached("SELECT replica, reporter FROM roster").forEach { row in
            let replica = ReplicaID(bytes: row.bytes(0))
            out[replica] = try Store.openedText(row, 1, for: .rosterReporter(replica), cipher: cipher)
        }
        return out
    }

    /// The roster's reporter name for each replica it names.
    public func authorNames() throws(StoreError) -> [ReplicaID: String] {
        try read { try rosterNames() }
    }

    /// The ids of incidents whose current values (any sibling of any field) come from a change
    /// whose author the roster does not name yet (unverified work).
    public func unverifiedIncidentIDs() throws(StoreError) -> Set<String> {
        try read {
            var dots: [String: Set<Dot>] = [:]
            try db.cached(
                """
                SELECT c.record, r.id, c.counter FROM changes c JOIN replicas r ON r.idx = c.replica
                WHERE c.verified IS NULL AND c.collection = 'incidents'
                """
            ).forEach { row in
                dots[row.text(0) ?? "", default: []].insert(
                    Dot(replica: ReplicaID(bytes: row.bytes(1)), counter: UInt64(row.int(2))))
            }
            var out = Set<String>()
            let stateOf = try db.cached("SELECT state FROM records WHERE collection = 'incidents' AND id = ?")
            for (id, unverified) in dots {
                guard let state = try stateOf.bind(.text(id)).first({ try decodeState($0, column: 0, key: RecordKey(id: id)) })
                else { continue }
                if state.fields.values.contains(where: { $0.contains { unverified.contains($0.dot) } }) { out.insert(id) }
            }
            return out
        }
    }

    /// Verified changes by other authors than `excluding` that `summary` lacks, in log order after
    /// `afterSeq` (what a device relays to the server): only applied changes whose author the
    /// roster names with the server's signature and as active, so the server knows every author
    /// and takes the batch; never unverified or legacy ones.
    public func relayChanges(
        missingFrom summary: SyncSummary, excluding: ReplicaID, afterSeq: Int64 = 0, limit: Int = 1000, maxBytes: Int = 1 << 20
    ) throws(StoreError) -> (changes: [StoredChange], nextSeq: Int64) {
        try read {
            let skip = replicaIndex[excluding] ?? -1
            let statement = try db.cached(
                """
                SELECT c.seq, c.collection, c.record, c.replica, c.counter, c.body FROM changes c
                JOIN replicas r ON r.idx = c.replica JOIN roster ro ON ro.replica = r.id
                WHERE c.seq > ? AND c.verified = 1 AND c.applied = 1 AND c.replica != ?
                  AND ro.sig IS NOT NULL AND ro.status = 'active'
                ORDER BY c.seq
                """)
            try statement.bind(.integer(afterSeq), .integer(skip))
            return try collect(statement, missingFrom: summary, afterSeq: afterSeq, limit: limit, maxBytes: maxBytes)
        }
    }

    /// Every change by `author` in log order after `afterSeq`, at most `limit` and about
    /// `maxBytes`, with the position to continue from (a restored device sends its old replica's
    /// whole work, so a partner holding another version of one of its dots settles it).
    public func changes(
        by author: ReplicaID, afterSeq: Int64 = 0, limit: Int = 1000, maxBytes: Int = 1 << 20
    ) throws(StoreError) -> (changes: [StoredChange], nextSeq: Int64) {
        try read {
            var out: [StoredChange] = []
            var bytes = 0
            var last = afterSeq
            guard let idx = replicaIndex[author] else { return (out, last) }
            let statement = try db.cached(
                "SELECT seq, \(Store.changeColumns) FROM changes WHERE replica = ? AND seq > ? AND verified = 1 ORDER BY seq")
            try statement.bind(.integer(idx), .integer(afterSeq))
            try statement.scan { row in
                last = row.int(0)
                let body = try changeBody(fromRow: row, at: 1)
                out.append(StoredChange(seq: last, replica: author, counter: UInt64(row.int(4)), body: body))
                bytes += body.count
                return out.count < limit && bytes < maxBytes
            }
            return (out, last)
        }
    }

    /// The setting recording the highest own counter that ever left this store, by any road (a
    /// server sync, a bundle, a device-to-device sync), as `replica-hex:counter`.
    static let ownSentSetting = "own_sent"

    /// The setting holding the highest own counter the server acknowledged (the server sync's).
    public static let serverAckedCounterSetting = "server_acked_counter"

    /// The highest counter of this store's current replica that ever left it (0 when none did,
    /// or only under an earlier replica). A partner holding a change of this replica beyond it
    /// (and beyond what the server acknowledged) got it from another copy of this store: this
    /// one was restored from an older copy (`trust.md`, "Restored stores").
    public func ownCounterSent() throws(StoreError) -> UInt64 {
        try read { try ownCounterSentInTransaction() }
    }

    /// `ownCounterSent` inside the caller's transaction.
    func ownCounterSentInTransaction() throws -> UInt64 {
        guard let text = try metaText(Store.ownSentSetting) else { return 0 }
        let parts = text.split(separator: ":")
        guard parts.count == 2, ReplicaID(hex: String(parts[0])) == replica, let counter = UInt64(parts[1]) else { return 0 }
        return counter
    }

    /// Own counters up to here reached another replica or may have (inside a transaction): the
    /// larger of the server's acknowledgement and `ownCounterSent`. Own changes above it never
    /// left this store.
    func ownSentFloorInTransaction() throws -> Int64 {
        max(max(0, try metaInt(Store.serverAckedCounterSetting)), Int64(clamping: try ownCounterSentInTransaction()))
    }

    /// Records that own changes up to `counter` of the current replica are leaving this store
    /// (before they go); a lower counter changes nothing.
    public func recordOwnSent(through counter: UInt64) throws(StoreError) {
        guard counter > 0, counter > (try ownCounterSent()) else { return }
        try write { try setMeta(Store.ownSentSetting, .text("\(replica.hex):\(counter)")) }
    }

    /// What the binding signature covers: `"OUTPOST-BIND-1\n"` ‖ replica bytes ‖ SHA-256 of the
    /// token's bytes (`trust.md`): it proves the key's owner sent this token.
    public static func bindingMessage(replica: ReplicaID, token: String) -> [UInt8] {
        Array("OUTPOST-BIND-1\n".utf8) + replica.bytes + Array(SHA256.hash(data: Array(token.utf8)))
    }

    /// This store's replica, public key and their binding to `token` (the key's signature over
    /// `bindingMessage`), as the server sync sends them. (Only `applyRemote` in the sync itself
    /// rotates the identity, and it does not run meanwhile.)
    public func binding(forToken token: String) -> (replica: ReplicaID, key: [UInt8], bind: [UInt8]) {
        let key = self.key
        let replica = self.replica
        return (replica, key.publicKey, key.signature(for: Store.bindingMessage(replica: replica, token: token)))
    }

    /// Every record with a conflict, oldest first.
    public func conflicts() throws(StoreError) -> [RecordConflicts] {
        try read {
            var out: [RecordConflicts] = []
            try db.cached("SELECT id, state FROM records WHERE collection = 'incidents' AND conflict = 1 ORDER BY created_ms, id")
                .forEach { row in
                    let state = try decodeState(row, column: 1, key: RecordKey(id: row.text(0) ?? ""))
                    if state.isDeleted { return }
                    let fields = state.conflicts.sorted { $0.key < $1.key }.map {
                        FieldConflict(field: $0.key, siblings: $0.value)
                    }
                    out.append(
                        RecordConflicts(
                            id: row.text(0) ?? "", title: state.visibleValue("title")?.stringValue, fields: fields,
                            keptAliveByConcurrentEdit: state.isKeptAliveByConcurrentEdit))
                }
            return out
        }
    }

    /// The store's identity and sync position.
    public func status() throws(StoreError) -> StoreStatus {
        try read {
            let own = try metaInt("counter")
            let acked = try metaInt(Store.serverAckedCounterSetting)
            let counts =
                try db.cached(
                    "SELECT count(*), coalesce(sum(applied = 0), 0) FROM changes"
                ).first { ($0.int(0), $0.int(1)) } ?? (0, 0)
            let records =
                try db.cached(
                    "SELECT coalesce(sum(deleted = 0), 0), coalesce(sum(deleted = 0 AND conflict = 1), 0) FROM records"
                ).first { ($0.int(0), $0.int(1)) } ?? (0, 0)
            return StoreStatus(
                replica: replica, reporter: try metaText("reporter") ?? "", ownChanges: own,
                unsyncedChanges: max(0, own - acked), heldBackChanges: counts.1, totalChanges: counts.0,
                incidents: records.0, conflicts: records.1, server: try metaText("server_url"))
        }
    }
}

/// One change of a record's history with its author as the roster names it and its verification.
public struct AttributedChange: Hashable, Sendable {
    /// The change and whether it is applied.
    public var entry: HistoryEntry
    /// The roster's reporter name for the author replica; nil when the roster does not name it.
    public var author: String?
    /// true: its signature verified under its author's key; nil: its author is not in the roster
    /// yet (unverified); false: made before signatures (legacy, unsigned).
    public var verified: Bool?

    /// Makes one.
    public init(entry: HistoryEntry, author: String?, verified: Bool?) {
        self.entry = entry
        self.author = author
        self.verified = verified
    }
}
