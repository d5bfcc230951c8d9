/// A new incident's fields, known to pass `IncidentSchema.validateNew` (valid values, a title,
/// no `_deleted`): the store takes them without checking them again.
///
/// Only a check makes one: `init(_:)` validates, the import reader makes them from rows it
/// validated field by field as it read them, and `TextReader` from text it checks field by field.
public struct CheckedIncidentFields: Hashable, Sendable {
    /// Field name → valid value.
    public let values: [String: JSONValue]

    /// Checks `fields` as a new incident's.
    public init(_ fields: [String: JSONValue]) throws(ValidationError) {
        try IncidentSchema.validateNew(fields: fields)
        values = fields
    }

    /// Fields whose values the caller has already checked one by one (inside this module
    /// only), when they make a new incident: when they include a title.
    init?(checkedValues fields: [String: JSONValue]) {
        guard fields["title"] != nil else { return nil }
        values = fields
    }
}

extension CheckedIncidentFields {
    /// Reads new incidents' fields from text (CSV rows), parsing and checking each field as it
    /// is set; it keeps what it learned about earlier rows to build later rows faster.
    public struct TextReader {
        private var assembler = IncidentFieldAssembler()
        private var present: UInt64 = 0

        /// A reader with no row begun.
        public init() {}

        /// Parses and checks `text` as the value of the field at `index` in
        /// `IncidentSchema.fields`, and keeps it for the current row (a field set twice keeps the
        /// last value). A value that fails its check is not kept.
        public mutating func set(fieldAt index: Int, text: String) throws(ValidationError) {
            assembler.set(index, try IncidentSchema.value(fieldAt: index, text: text))
            present |= 1 << UInt64(index)
        }

        /// Ends the current row: its fields, and the same fields as a new incident's when they
        /// include a title.
        public mutating func finishRow() -> (fields: [String: JSONValue], checked: CheckedIncidentFields?) {
            let fields = assembler.take(present)
            present = 0
            return (fields, CheckedIncidentFields(checkedValues: fields))
        }
    }
}
