import OutpostCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The bounds of `trust.md` ("Bounds") and issue 11, checked on whatever a decoder accepted: a
/// decoder that lets a value past them is a finding. On by default; `OUTPOST_FUZZ_BOUNDS=0` turns
/// them off (to fuzz for traps and disagreements alone on code that does not enforce them yet).
public enum SpecBounds {
    /// Whether the bound checks run (read once).
    public static let enabled: Bool = {
        guard let value = getenv("OUTPOST_FUZZ_BOUNDS") else { return true }
        return String(cString: value) != "0"
    }()

    /// Latest `ms`: 9999-12-31T23:59:59.999Z.
    public static let maxMs: Int64 = 253_402_300_799_999
    /// Largest counter: 2^53 − 1.
    public static let maxCounter: UInt64 = (1 << 53) - 1
    /// Most `deps` entries.
    public static let maxDepsEntries = 10_000

    /// Whether `id` matches `[A-Za-z0-9][A-Za-z0-9._:-]{0,199}`, byte for byte.
    public static func isValidRecordID(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard let first = bytes.first, bytes.count <= 200, isAlphanumeric(first) else { return false }
        return bytes.dropFirst().allSatisfy {
            isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ":")
                || $0 == UInt8(ascii: "-")
        }
    }

    private static func isAlphanumeric(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
            || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
    }

    /// Whether `text` is non-empty lowercase hex digits.
    public static func isLowercaseHex(_ text: String) -> Bool {
        !text.isEmpty
            && text.utf8.allSatisfy {
                ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f"))
            }
    }

    /// What is wrong with an accepted change, or nil when it keeps every bound. `wire` is the JSON
    /// it was read from, when the caller has it (replica ids must be lowercase hex there).
    public static func violation(of change: Change, wire: JSONValue? = nil) -> String? {
        if !(1...maxCounter).contains(change.dot.counter) { return "counter \(change.dot.counter) out of [1, 2^53-1]" }
        if !(0...maxMs).contains(change.tag.ms) { return "ms \(change.tag.ms) out of [0, \(maxMs)]" }
        if change.deps.entries.count > maxDepsEntries { return "deps has \(change.deps.entries.count) entries" }
        for (replica, counter) in change.deps.entries where counter > maxCounter {
            return "deps[\(replica.hex)] = \(counter) past 2^53-1"
        }
        if !isValidRecordID(change.record.id) { return "record id \(debugText(change.record.id)) breaks the id rule" }
        if case .object(let members)? = wire {
            if case .string(let hex)? = members["replica"], !isLowercaseHex(hex) {
                return "replica \(debugText(hex)) is not lowercase hex"
            }
            if case .object(let deps)? = members["deps"] {
                for key in deps.keys where !isLowercaseHex(key) { return "deps key \(debugText(key)) is not lowercase hex" }
            }
        }
        // Writes are checked against the incident schema apart from the change (the server does
        // both); text past its byte limit only matters in writes the schema accepts.
        if (try? IncidentSchema.validate(writes: change.writes)) != nil { return textViolation(in: change.writes) }
        return nil
    }

    /// A text field whose value is longer in UTF-8 bytes than the schema's byte limit (`FieldKind.maxTextBytes`), when the writes
    /// are otherwise valid.
    public static func textViolation(in fields: [String: JSONValue]) -> String? {
        for (field, value) in fields {
            guard case .string(let text) = value, let spec = IncidentSchema.byName[field],
                case .text(_, let max, _) = spec.kind, text.utf8.count > FieldKind.maxTextBytes(max)
            else { continue }
            return "\(field) is \(text.utf8.count) UTF-8 bytes, past its limit of \(FieldKind.maxTextBytes(max))"
        }
        return nil
    }

    /// A short, escaped rendering of outside text for a finding's message.
    public static func debugText(_ text: String) -> String {
        let shown = text.unicodeScalars.prefix(80)
        return String(String.UnicodeScalarView(shown)).debugDescription + (text.unicodeScalars.count > 80 ? "…" : "")
    }
}
