import OutpostCore
import OutpostStore

/// The JSON objects `show --json`, `list --json` and `export` print.
public enum IncidentJSON {
    /// `IncidentRecord.json` plus `conflicts`: field → siblings (visible first) with author and time.
    public static func object(_ record: IncidentRecord, conflicts: [(field: String, siblings: [Sibling])] = []) -> JSONValue {
        guard case .object(var members) = record.json else { return record.json }
        var byField: [String: JSONValue] = [:]
        for conflict in conflicts {
            byField[conflict.field] = .array(conflict.siblings.map(sibling))
        }
        members["conflicts"] = .object(byField)
        return .object(members)
    }

    /// One sibling: its value, author, counter, reporter and time.
    public static func sibling(_ sibling: Sibling) -> JSONValue {
        .object([
            "value": sibling.value, "replica": .string(sibling.dot.replica.hex),
            "counter": .int(Int64(sibling.dot.counter)), "reporter": sibling.reporter.map(JSONValue.string) ?? .null,
            "time": .string(DateText.rfc3339(epochMilliseconds: sibling.tag.ms)),
        ])
    }

    /// The field conflicts of a record's state, by field name.
    public static func conflicts(of state: RecordState?) -> [(field: String, siblings: [Sibling])] {
        guard let state else { return [] }
        return state.conflicts.sorted { $0.key < $1.key }.map { (field: $0.key, siblings: $0.value) }
    }

    /// The field conflicts of a store's conflict report, by field name.
    public static func conflicts(of report: RecordConflicts) -> [(field: String, siblings: [Sibling])] {
        report.fields.map { (field: $0.field, siblings: $0.siblings) }
    }
}
