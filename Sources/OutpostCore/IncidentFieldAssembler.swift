/// Holds a row's values by field position and makes the row's dictionary from them.
///
/// Few sets of fields are common in a file, so each set gets a template: a dictionary of those
/// keys and where each key sits in it. A copy of the template keeps its layout, so a row's
/// values go straight into their places and no key is hashed.
struct IncidentFieldAssembler {
    /// A dictionary holding one set of fields (with placeholder values), and where each of them is.
    private struct Template {
        var fields: [String: JSONValue]
        var positions: [Dictionary<String, JSONValue>.Index?]
    }

    /// The current row's values, by position in `IncidentSchema.fields`.
    private var values = [JSONValue](repeating: .null, count: IncidentSchema.fields.count)
    /// Templates by the set of fields present (bit i: field i).
    private var templates: [UInt64: Template] = [:]
    /// The template used last, and its set of fields.
    private var last: Template?
    private var lastPresent: UInt64 = 0

    init() {
        // A set of fields is a 64-bit mask.
        precondition(IncidentSchema.fields.count <= 64, "more fields than a set of fields can hold")
    }

    /// Keeps `value` for the field at position `field`.
    @inline(__always)
    mutating func set(_ field: Int, _ value: JSONValue) { values[field] = value }

    /// A dictionary of the fields in `present`, their values moved out (fields outside it keep
    /// theirs until they are set again).
    mutating func take(_ present: UInt64) -> [String: JSONValue] {
        if present != lastPresent || last == nil {
            if let known = templates[present] {
                last = known
            } else {
                let names = IncidentSchema.fieldNames
                var fields: [String: JSONValue] = [:]
                fields.reserveCapacity(present.nonzeroBitCount)
                for field in names.indices where present & 1 << UInt64(field) != 0 { fields[names[field]] = .null }
                // Few sets of fields are common; past that, rows are built key by key.
                if templates.count >= 64 {
                    for field in names.indices where present & 1 << UInt64(field) != 0 { fields[names[field]] = take(field) }
                    return fields
                }
                let template = Template(fields: fields, positions: names.map { fields.index(forKey: $0) })
                templates[present] = template
                last = template
            }
            lastPresent = present
        }
        let template = last!
        var fields = template.fields
        var rest = present
        while rest != 0 {
            let field = rest.trailingZeroBitCount
            rest &= rest - 1
            fields.values[template.positions[field]!] = take(field)
        }
        return fields
    }

    /// The value of `field`, leaving null in its place.
    @inline(__always)
    private mutating func take(_ field: Int) -> JSONValue {
        var value = JSONValue.null
        swap(&value, &values[field])
        return value
    }
}
