import OutpostCore

/// Who may read one record, as the server keeps it (`record_access`, schema 6).
public struct ServerRecordAccess: Hashable, Sendable {
    /// The record.
    public var record: RecordKey
    /// Its team: its creator's, until an analyst moves it.
    public var team: String
    /// Its creator's reporter (nil when unknown).
    public var author: String?
    /// Whether its current `sensitivity` is `restricted`.
    public var restricted: Bool
    /// Whether an analyst moved it.
    public var moved: Bool
    /// The access position of its last change of access (0: none since it was made).
    public var pos: Int64

    /// Makes one.
    public init(record: RecordKey, team: String, author: String?, restricted: Bool, moved: Bool = false, pos: Int64 = 0) {
        self.record = record
        self.team = team
        self.author = author
        self.restricted = restricted
        self.moved = moved
        self.pos = pos
    }
}

/// The server's side of teams (issue 14): one `record_access` row per record, kept as changes
/// are applied and records are moved, the access notices devices ask for, and the reads that
/// give each reader only what it may read.
extension Store {
    /// The `meta` key of the last access position handed out.
    static let accessPositionMeta = "access_pos"

    static let serverAccessColumns = "collection, record, team, author, restricted, moved, pos"

    private static func serverAccess(_ row: Row, at first: Int32 = 0) -> ServerRecordAccess {
        ServerRecordAccess(
            record: RecordKey(collection: row.text(first) ?? "", id: row.text(first + 1) ?? ""), team: row.text(first + 2) ?? "",
            author: row.text(first + 3), restricted: row.int(first + 4) != 0, moved: row.int(first + 5) != 0,
            pos: row.int(first + 6))
    }

    /// The records whose applied changes sit in the log after `seq` (a batch's, or a release's).
    public func recordsApplied(afterSeq seq: Int64) throws(StoreError) -> Set<RecordKey> {
        try read {
            var out = Set<RecordKey>()
            try db.cached("SELECT DISTINCT collection, record FROM changes WHERE seq > ? AND applied = 1").bind(.integer(seq))
                .forEach { out.insert(RecordKey(collection: $0.text(0) ?? "", id: $0.text(1) ?? "")) }
            return out
        }
    }

    /// Records with a state but no `record_access` row (a crash between an apply and its access
    /// update, or a creator the server did not know then).
    public func recordsWithoutServerAccess() throws(StoreError) -> Set<RecordKey> {
        try read {
            var out = Set<RecordKey>()
            try db.cached(
                """
                SELECT r.collection, r.id FROM records r
                LEFT JOIN record_access a ON a.collection = r.collection AND a.record = r.id
                WHERE a.record IS NULL
                """
            ).forEach { out.insert(RecordKey(collection: $0.text(0) ?? "", id: $0.text(1) ?? "")) }
            return out
        }
    }

    /// Makes the missing `record_access` rows of `records` and updates `restricted` from their
    /// current state, in one transaction. A new row takes the team and reporter of its creator
    /// (the author of its first applied change): its signed roster entry's, else those of the
    /// token bound to it, and "default" for the server's own replica (`serverReporter`); a
    /// creator none of these name gets no row (its record is readable by no reporter). A row
    /// whose `restricted` changes, and with `announce` a new row, takes the next access
    /// position. Returns the rows that took a position.
    @discardableResult
    public func updateServerAccess(
        _ records: Set<RecordKey>, serverReporter: String, announce: Bool = false
    ) throws(StoreError) -> [ServerRecordAccess] {
        guard !records.isEmpty else { return [] }
        return try write {
            var moved: [ServerRecordAccess] = []
            let held = try db.cached("SELECT \(Store.serverAccessColumns) FROM record_access WHERE collection = ? AND record = ?")
            let stateRow = try db.cached("SELECT state, log FROM records WHERE collection = ? AND id = ?")
            for key in records.sorted(by: { ($0.collection, $0.id) < ($1.collection, $1.id) }) {
                let values: [SQLValue] = [.text(key.collection), .text(key.id)]
                guard
                    let (restricted, creatorIndex) = try stateRow.bind(values).first({ row -> (Bool, Int64?) in
                        let state = try decodeState(row, column: 0, key: key)
                        let first = (row.text(1) ?? "").split(separator: " ").first?.split(separator: ".").first
                        return (state.visibleFields["sensitivity"]?.stringValue == "restricted", first.flatMap { Int64($0) })
                    })
                else { continue }
                if var access = try held.bind(values).first({ Store.serverAccess($0) }) {
                    guard access.restricted != restricted else { continue }
                    access.restricted = restricted
                    access.pos = try nextAccessPosition()
                    try db.cached("UPDATE record_access SET restricted = ?, pos = ? WHERE collection = ? AND record = ?")
                        .bind([.integer(restricted ? 1 : 0), .integer(access.pos)] + values).run()
                    moved.append(access)
                    continue
                }
                guard let creatorIndex,
                    let (team, author) = try creatorTeam(try replicaID(forIndex: creatorIndex), serverReporter)
                else { continue }
                let access = ServerRecordAccess(
                    record: key, team: team, author: author, restricted: restricted, pos: announce ? try nextAccessPosition() : 0)
                try db.cached(
                    "INSERT INTO record_access (collection, record, team, author, restricted, moved, pos) VALUES (?, ?, ?, ?, ?, 0, ?)"
                ).bind(values + [.text(team), .text(author), .integer(restricted ? 1 : 0), .integer(access.pos)]).run()
                if announce { moved.append(access) }
            }
            return moved
        }
    }

    /// The team and reporter of `creator` (inside a transaction): its signed roster entry's, else
    /// the oldest token bound to it, else for the server's own replica "default" and `serverReporter`.
    private func creatorTeam(_ creator: ReplicaID, _ serverReporter: String) throws -> (team: String, author: String)? {
        if let entry = try db.cached("SELECT \(Store.rosterColumns) FROM roster WHERE replica = ? AND sig IS NOT NULL")
            .bind(.blob(creator.bytes)).first({ try rosterEntry($0) })
        {
            return (entry.effectiveTeam, entry.reporter)
        }
        if let token = try db.cached("SELECT reporter, team FROM server_tokens WHERE replica = ? ORDER BY id LIMIT 1")
            .bind(.blob(creator.bytes)).first({ ($0.text(0) ?? "", $0.text(1) ?? TeamName.defaultTeam) })
        {
            return (token.1, token.0)
        }
        if creator == replica { return (TeamName.defaultTeam, serverReporter) }
        return nil
    }

    /// The next access position (inside a transaction).
    private func nextAccessPosition() throws -> Int64 {
        let next = try metaInt(Store.accessPositionMeta) + 1
        try setMeta(Store.accessPositionMeta, .integer(next))
        return next
    }

    /// The last access position handed out (0 when none).
    public func serverAccessPosition() throws(StoreError) -> Int64 {
        try read { try metaInt(Store.accessPositionMeta) }
    }

    /// The `record_access` row of `record`, nil when the server has none.
    public func serverAccess(of record: RecordKey) throws(StoreError) -> ServerRecordAccess? {
        try read {
            try db.cached("SELECT \(Store.serverAccessColumns) FROM record_access WHERE collection = ? AND record = ?")
                .bind(.text(record.collection), .text(record.id)).first { Store.serverAccess($0) }
        }
    }

    /// The rows whose access changed after position `pos`, by position, at most `limit`.
    public func serverAccessChanges(after pos: Int64, limit: Int) throws(StoreError) -> [ServerRecordAccess] {
        try read {
            var out: [ServerRecordAccess] = []
            try db.cached("SELECT \(Store.serverAccessColumns) FROM record_access WHERE pos > ? ORDER BY pos LIMIT ?")
                .bind(.integer(pos), .integer(Int64(limit))).forEach { out.append(Store.serverAccess($0)) }
            return out
        }
    }

    /// Moves `record` to `team` (`moved = 1`, the next access position); returns its row before
    /// the move, nil when the server has no row for it. Moving it to its own team changes nothing.
    public func moveServerRecord(_ record: RecordKey, to team: String) throws(StoreError) -> ServerRecordAccess? {
        try write {
            let values: [SQLValue] = [.text(record.collection), .text(record.id)]
            guard
                let before = try db.cached(
                    "SELECT \(Store.serverAccessColumns) FROM record_access WHERE collection = ? AND record = ?"
                ).bind(values).first({ Store.serverAccess($0) })
            else { return nil }
            guard before.team != team else { return before }
            try db.cached("UPDATE record_access SET team = ?, moved = 1, pos = ? WHERE collection = ? AND record = ?")
                .bind([.text(team), .integer(try nextAccessPosition())] + values).run()
            return before
        }
    }

    /// Every applied change of `record`, in the order it was applied (what a device that may now
    /// read it is sent), about `maxBytes` at most (at least one).
    public func appliedChanges(of record: RecordKey, maxBytes: Int = 1 << 24) throws(StoreError) -> [StoredChange] {
        try read {
            let log =
                try db.cached("SELECT log FROM records WHERE collection = ? AND id = ?")
                .bind(.text(record.collection), .text(record.id)).first { $0.text(0) } ?? nil
            let byDot = try db.cached("SELECT seq, \(Store.changeColumns) FROM changes WHERE replica = ? AND counter = ?")
            var out: [StoredChange] = []
            var bytes = 0
            for entry in (log ?? "").split(separator: " ") {
                let parts = entry.split(separator: ".")
                guard parts.count == 2, let idx = Int64(parts[0]), let counter = Int64(parts[1]) else { continue }
                guard
                    let change = try byDot.bind(.integer(idx), .integer(counter)).first({ row in
                        StoredChange(
                            seq: row.int(0), replica: try replicaID(forIndex: idx), counter: UInt64(max(0, counter)),
                            body: try changeBody(fromRow: row, at: 1))
                    })
                else { continue }
                if !out.isEmpty && bytes + change.body.count > maxBytes { break }
                out.append(change)
                bytes += change.body.count
            }
            return out
        }
    }

    /// Changes in log order after `afterSeq` that `readable` allows, given each record's row (nil
    /// when the server has none), as `changes(afterSeq:excluding:…)` picks them (not by
    /// `excluding`, not held back, in range); at most `limit`, about `maxBytes`, and at most
    /// `scanLimit` rows of the log looked at. The position returned goes past the skipped ones.
    public func readableChanges(
        afterSeq: Int64, excluding: ReplicaID?, limit: Int, maxBytes: Int, scanLimit: Int,
        readable: (ServerRecordAccess?) -> Bool
    ) throws(StoreError) -> (changes: [StoredChange], nextSeq: Int64) {
        try read {
            var out: [StoredChange] = []
            var bytes = 0
            var last = afterSeq
            let skip = excluding.flatMap { replicaIndex[$0] } ?? -1
            let statement = try db.cached(
                """
                SELECT c.seq, c.applied, c.ms, c.collection, c.record, c.replica, c.counter, c.body,
                       a.collection, a.record, a.team, a.author, a.restricted, a.moved, a.pos
                FROM changes c LEFT JOIN record_access a ON a.collection = c.collection AND a.record = c.record
                WHERE c.seq > ? ORDER BY c.seq LIMIT ?
                """)
            try statement.bind(.integer(afterSeq), .integer(Int64(max(1, scanLimit))))
            try statement.scan { row in
                let seq = row.int(0)
                last = seq
                let idx = row.int(5)
                if idx == skip || row.int(1) == 0 { return true }
                if !Change.msRange.contains(row.int(2)) || !Change.counterRange.contains(row.int(6)) { return true }
                guard readable(row.isNull(8) ? nil : Store.serverAccess(row, at: 8)) else { return true }
                let body = try changeBody(fromRow: row, at: 3)
                out.append(
                    StoredChange(seq: seq, replica: try replicaID(forIndex: idx), counter: UInt64(row.int(6)), body: body))
                bytes += body.count
                return out.count < limit && bytes < maxBytes
            }
            return (out, last)
        }
    }

    /// The ids of the incidents in `teams`.
    public func incidentIDs(inTeams teams: Set<String>) throws(StoreError) -> Set<String> {
        try read {
            var out = Set<String>()
            let statement = try db.cached("SELECT record FROM record_access WHERE collection = 'incidents' AND team = ?")
            for team in teams { try statement.bind(.text(team)).forEach { out.insert($0.text(0) ?? "") } }
            return out
        }
    }

    /// `incidentPage` over the incidents of `teams` only.
    public func incidentPage(
        inTeams teams: Set<String>, includeDeleted: Bool, updatedAfterMs: Int64?, after: (createdMs: Int64, id: String)?,
        offset: Int, limit: Int
    ) throws(StoreError) -> (incidents: [IncidentRecord], total: Int, more: Bool) {
        try read {
            let names = teams.sorted()
            guard !names.isEmpty else { return ([], 0, false) }
            var filter =
                "collection = 'incidents' AND id IN (SELECT record FROM record_access WHERE collection = 'incidents' AND team IN ("
                + Array(repeating: "?", count: names.count).joined(separator: ", ") + "))"
            var values: [SQLValue] = names.map { .text($0) }
            if !includeDeleted { filter += " AND deleted = 0" }
            if let updatedAfterMs {
                filter += " AND updated_ms > ?"
                values.append(.integer(updatedAfterMs))
            }
            let total = try db.prepare("SELECT count(*) FROM records WHERE \(filter)").bind(values).first { Int($0.int(0)) } ?? 0
            if let after {
                filter += " AND (created_ms > ? OR (created_ms = ? AND id > ?))"
                values += [.integer(after.createdMs), .integer(after.createdMs), .text(after.id)]
            }
            values += [.integer(Int64(limit) + 1), .integer(after == nil ? Int64(offset) : 0)]
            var page: [IncidentRecord] = []
            try db.prepare("SELECT \(Store.recordColumns) FROM records WHERE \(filter) ORDER BY created_ms, id LIMIT ? OFFSET ?")
                .bind(values).forEach { page.append(try incident(from: $0)) }
            let more = page.count > limit
            if more { page.removeLast() }
            return (page, total, more)
        }
    }
}
