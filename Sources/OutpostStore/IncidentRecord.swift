import OutpostCore

/// An incident as a reader sees it: visible field values and flags.
public struct IncidentRecord: Hashable, Sendable {
    /// The incident's id.
    public var id: String
    /// Field → visible value (fields with at least one write).
    public var fields: [String: JSONValue]
    /// Whether the incident is deleted.
    public var deleted: Bool
    /// Whether a field is in conflict or a delete is contested by a concurrent edit.
    public var conflict: Bool
    /// Tag time (ms) of the first change applied.
    public var createdMs: Int64
    /// Greatest tag time (ms) of the changes applied.
    public var updatedMs: Int64
    /// Position in the local change log of its last applied change.
    public var updatedSeq: Int64

    /// The incident as JSON: `{"id", "fields", "deleted", "conflict", "created_at", "updated_at"}`.
    public var json: JSONValue {
        .object([
            "id": .string(id), "fields": .object(fields), "deleted": .bool(deleted), "conflict": .bool(conflict),
            "created_at": .string(DateText.rfc3339(epochMilliseconds: createdMs)),
            "updated_at": .string(DateText.rfc3339(epochMilliseconds: updatedMs)),
        ])
    }
}

/// One entry of a record's history.
public struct HistoryEntry: Hashable, Sendable {
    /// The change.
    public var change: Change
    /// Whether it is applied (false while held back waiting for its deps).
    public var applied: Bool

    /// The entry as JSON: author, reporter, time, fields written.
    public var json: JSONValue {
        .object([
            "replica": .string(change.dot.replica.hex), "counter": .int(Int64(change.dot.counter)),
            "reporter": change.reporter.map(JSONValue.string) ?? .null,
            "time": .string(DateText.rfc3339(epochMilliseconds: change.tag.ms)), "writes": .object(change.writes),
            "applied": .bool(applied),
        ])
    }
}

/// One field in conflict: every sibling, visible one first.
public struct FieldConflict: Hashable, Sendable {
    /// The field.
    public var field: String
    /// The siblings, greatest write order (the visible value) first.
    public var siblings: [Sibling]
}

/// A record's conflicts: fields with several siblings, and a delete kept back by a concurrent edit.
public struct RecordConflicts: Hashable, Sendable {
    /// The incident's id.
    public var id: String
    /// Its visible title, when any.
    public var title: String?
    /// Fields in conflict, by field name.
    public var fields: [FieldConflict]
    /// Whether a delete is visible but an edit its author had not seen keeps the record alive.
    public var keptAliveByConcurrentEdit: Bool
}

/// A store's identity and sync position.
public struct StoreStatus: Hashable, Sendable {
    /// This store's replica id.
    public var replica: ReplicaID
    /// The reporter name.
    public var reporter: String
    /// Changes this replica made.
    public var ownChanges: Int64
    /// Own changes the server has not acknowledged.
    public var unsyncedChanges: Int64
    /// Changes held back waiting for their deps.
    public var heldBackChanges: Int64
    /// All changes in the log.
    public var totalChanges: Int64
    /// Visible incidents.
    public var incidents: Int64
    /// Incidents with a conflict.
    public var conflicts: Int64
    /// The server URL, when configured.
    public var server: String?

    /// The status as JSON.
    public var json: JSONValue {
        .object([
            "replica": .string(replica.hex), "reporter": .string(reporter), "own_changes": .int(ownChanges),
            "unsynced_changes": .int(unsyncedChanges), "held_back_changes": .int(heldBackChanges),
            "total_changes": .int(totalChanges), "incidents": .int(incidents), "conflicts": .int(conflicts),
            "server": server.map(JSONValue.string) ?? .null,
        ])
    }
}
