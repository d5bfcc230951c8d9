/// A new incident's fields, known to pass `IncidentSchema.validateNew` (valid values, a title,
/// no `_deleted`): the store takes them without checking them again.
///
/// Only a check makes one: `init(_:)` validates, and the import reader makes them from rows it
/// validated field by field as it read them.
public struct CheckedIncidentFields: Hashable, Sendable {
    /// Field name → valid value.
    public let values: [String: JSONValue]

    /// Checks `fields` as a new incident's.
    public init(_ fields: [String: JSONValue]) throws(ValidationError) {
        try IncidentSchema.validateNew(fields: fields)
        values = fields
    }

    /// Fields the caller has already checked (inside this module only).
    init(alreadyChecked fields: [String: JSONValue]) {
        values = fields
    }
}
