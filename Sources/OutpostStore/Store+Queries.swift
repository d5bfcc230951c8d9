import OutpostCore

extension Store {
    static let recordColumns = "id, state, deleted, conflict, created_ms, updated_ms, updated_seq"

    /// An incident from a row of `recordColumns`: its visible values come from the stored state.
    func incident(from row: Row) throws -> IncidentRecord {
        let state = try decodeState(row, column: 1)
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
                try decodeState(row, column: 0)
            }
        }
    }

    /// Every change to a record, in log order; held-back changes last.
    public func history(id: String) throws(StoreError) -> [HistoryEntry] {
        try read {
            var out: [HistoryEntry] = []
            let log =
                try db.cached("SELECT log FROM records WHERE collection = 'incidents' AND id = ?").bind(.text(id))
                .first { $0.text(0) } ?? nil
            let byDot = try db.cached("SELECT body FROM changes WHERE replica = ? AND counter = ?")
            for entry in (log ?? "").split(separator: " ") {
                let parts = entry.split(separator: ".")
                guard parts.count == 2, let idx = Int64(parts[0]), let counter = Int64(parts[1]) else {
                    throw StoreError(.storage, "incident \(id) has a damaged change list (\(entry))")
                }
                guard
                    let change = try byDot.bind(.integer(idx), .integer(counter)).first({ row in
                        try row.withBytes(0) { try Change(storedJSONBytes: $0) }
                    })
                else { throw StoreError(.storage, "incident \(id) lists a change the log does not hold (\(entry))") }
                out.append(HistoryEntry(change: change, applied: true))
            }
            try db.cached("SELECT body FROM changes WHERE applied = 0 AND collection = 'incidents' AND record = ? ORDER BY seq")
                .bind(.text(id)).forEach { row in
                    let change = try row.withBytes(0) { try Change(storedJSONBytes: $0) }
                    out.append(HistoryEntry(change: change, applied: false))
                }
            return out
        }
    }

    /// Every record with a conflict, oldest first.
    public func conflicts() throws(StoreError) -> [RecordConflicts] {
        try read {
            var out: [RecordConflicts] = []
            try db.cached("SELECT id, state FROM records WHERE collection = 'incidents' AND conflict = 1 ORDER BY created_ms, id")
                .forEach { row in
                    let state = try decodeState(row, column: 1)
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
            let acked = try metaInt("server_acked_counter")
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
