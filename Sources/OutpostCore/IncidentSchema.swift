/// A value an incident field refused, naming the field and the rule.
public struct ValidationError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The field that was refused.
    public var field: String
    /// The rule it broke, in words.
    public var rule: String

    /// Makes an error.
    public init(field: String, rule: String) {
        self.field = field
        self.rule = rule
    }

    public var description: String { "\(field): \(rule)" }
}

/// The kind of value a field holds and its rule.
public enum FieldKind: Hashable, Sendable {
    /// Text with a character-count range (counted after trimming when `trimmed`) and at most
    /// `FieldKind.maxTextBytes(max)` UTF-8 bytes: a character of many combining marks counts
    /// as one character but cannot pass the byte limit.
    case text(min: Int, max: Int, trimmed: Bool)
    /// One of a closed set of strings.
    case choice([String])
    /// A whole number in a range.
    case integer(ClosedRange<Int64>)
    /// A finite number in a range.
    case number(ClosedRange<Double>)
    /// An RFC 3339 date-time or a plain `YYYY-MM-DD` date, years 1900–2100.
    case dateTime
}

extension FieldKind {
    /// The most UTF-8 bytes of a text field of at most `maxCharacters` characters: 4 per
    /// character, the longest a character of one Unicode scalar takes.
    public static func maxTextBytes(_ maxCharacters: Int) -> Int { 4 * maxCharacters }
}

/// One field of the incident model (v1).
public struct FieldSpec: Hashable, Sendable {
    /// The field's name, as in JSON and the change log.
    public var name: String
    /// Its kind and rule.
    public var kind: FieldKind

    /// The CLI flag for the field: its name with `-` for `_`.
    public var flag: String { String(name.map { $0 == "_" ? "-" : $0 }) }

    /// Whether the value is a number in JSON.
    public var isNumeric: Bool {
        switch kind {
        case .integer, .number: return true
        default: return false
        }
    }
}

/// The incident model: its fields, in display order, and their validation.
public enum IncidentSchema {
    /// ACLED's six event types plus displacement and other.
    public static let eventTypes = [
        "battle", "explosion_remote_violence", "violence_against_civilians", "protest", "riot",
        "strategic_development", "displacement", "other",
    ]

    /// Every field, in display order.
    public static let fields: [FieldSpec] = [
        FieldSpec(name: "title", kind: .text(min: 1, max: 200, trimmed: true)),
        FieldSpec(name: "narrative", kind: .text(min: 0, max: 50_000, trimmed: false)),
        FieldSpec(name: "event_type", kind: .choice(eventTypes)),
        FieldSpec(name: "occurred_at", kind: .dateTime),
        FieldSpec(name: "date_precision", kind: .choice(["exact", "day", "week", "month", "year"])),
        FieldSpec(name: "lat", kind: .number(-90...90)),
        FieldSpec(name: "lon", kind: .number(-180...180)),
        FieldSpec(name: "geo_precision", kind: .choice(["exact", "near", "district", "region", "country"])),
        FieldSpec(name: "place_name", kind: .text(min: 0, max: 200, trimmed: false)),
        FieldSpec(name: "admin1", kind: .text(min: 0, max: 200, trimmed: false)),
        FieldSpec(name: "admin2", kind: .text(min: 0, max: 200, trimmed: false)),
        FieldSpec(name: "killed", kind: .integer(0...10_000_000)),
        FieldSpec(name: "injured", kind: .integer(0...10_000_000)),
        FieldSpec(name: "abducted", kind: .integer(0...10_000_000)),
        FieldSpec(name: "displaced", kind: .integer(0...10_000_000)),
        FieldSpec(name: "perpetrator", kind: .text(min: 0, max: 500, trimmed: false)),
        FieldSpec(name: "target", kind: .text(min: 0, max: 500, trimmed: false)),
        FieldSpec(name: "source_type", kind: .choice(["witness", "victim", "media", "official", "ngo", "other"])),
        FieldSpec(name: "confidence", kind: .choice(["low", "medium", "high"])),
        FieldSpec(name: "sensitivity", kind: .choice(["normal", "sensitive", "restricted"])),
        FieldSpec(name: "status", kind: .choice(["draft", "submitted", "verified", "disputed", "rejected", "duplicate"])),
        FieldSpec(name: "review_note", kind: .text(min: 0, max: 2000, trimmed: false)),
        FieldSpec(name: "duplicate_of", kind: .text(min: 0, max: 200, trimmed: false)),
    ]

    /// Field name → spec.
    public static let byName: [String: FieldSpec] = Dictionary(uniqueKeysWithValues: fields.map { ($0.name, $0) })

    /// Field names in display order.
    public static let fieldNames: [String] = fields.map(\.name)

    /// The position in `fields` of the field with UTF-8 name `name`, or nil for an unknown name.
    public static func fieldIndex(utf8 name: UnsafeBufferPointer<UInt8>) -> Int? {
        if name.count <= 16 {
            return table.fieldIndex(
                count: name.count, low: ByteWords.littleEndianWord(name), high: ByteWords.littleEndianWord(name.dropFirst(8)))
        }
        return fieldNames.firstIndex { $0.utf8.elementsEqual(name) }
    }

    /// The position in `fields` of the field named `name`, or nil for an unknown name.
    public static func fieldIndex(_ name: String) -> Int? {
        if let found = name.utf8.withContiguousStorageIfAvailable({ fieldIndex(utf8: $0) }), let found { return found }
        // Byte for byte (`String ==` would take a canonically equivalent spelling).
        return fieldNames.firstIndex { $0.utf8.elementsEqual(name.utf8) }
    }

    /// Field names and choice options laid out for lookups by bytes.
    static let table = FieldTable(fields)

    /// Field names and choice options laid out for lookups by bytes.
    struct FieldTable: Sendable {
        /// By `slot`: the position of the one field name there, -1 for none, -2 for several.
        private let slots: [Int8]
        /// Each name's first 16 UTF-8 bytes as two little-endian words, zero-padded.
        private let words: [UInt64]
        /// Each name's UTF-8 length.
        private let counts: [Int]
        /// For each field, the range of its options in `optionTexts` (empty for other kinds).
        let optionRanges: [Range<Int>]
        /// Every choice option's text, field by field.
        let optionTexts: [String]
        /// Every choice option's UTF-8 bytes.
        let optionUTF8: [[UInt8]]
        /// Every choice option's UTF-8 length.
        let optionCounts: [Int]
        /// Every choice option's first 8 UTF-8 bytes as a little-endian word, zero-padded.
        let optionHeads: [UInt64]

        init(_ fields: [FieldSpec]) {
            var slots = [Int8](repeating: -1, count: 1024)
            var words: [UInt64] = []
            var counts: [Int] = []
            var optionRanges: [Range<Int>] = []
            var optionTexts: [String] = []
            for (index, spec) in fields.enumerated() {
                let name = Array(spec.name.utf8)
                let (low, high) = (ByteWords.littleEndianWord(name), ByteWords.littleEndianWord(name.dropFirst(8)))
                words += [low, high]
                counts.append(name.count)
                let s = FieldTable.slot(low: low, high: high)
                slots[s] = slots[s] == -1 && name.count <= 16 ? Int8(index) : -2
                let start = optionTexts.count
                if case .choice(let options) = spec.kind { optionTexts += options }
                optionRanges.append(start..<optionTexts.count)
            }
            self.slots = slots
            self.words = words
            self.counts = counts
            self.optionRanges = optionRanges
            self.optionTexts = optionTexts
            self.optionUTF8 = optionTexts.map { Array($0.utf8) }
            self.optionCounts = optionUTF8.map(\.count)
            self.optionHeads = optionUTF8.map { ByteWords.littleEndianWord($0) }
        }

        @inline(__always)
        private static func slot(low: UInt64, high: UInt64) -> Int {
            Int(truncatingIfNeeded: (low &* 0x9E37_79B9_7F4A_7C15 ^ high &* 0xC2B2_AE3D_27D4_EB4F) >> 54)
        }

        /// The position of the field whose name has `count` bytes, given as two little-endian
        /// words (zero-padded) when `count` ≤ 16.
        @inline(__always)
        func fieldIndex(count: Int, low: UInt64, high: UInt64) -> Int? {
            let entry = slots[FieldTable.slot(low: low, high: high)]
            if entry >= 0 {
                let index = Int(entry)
                return counts[index] == count && words[2 * index] == low && words[2 * index + 1] == high ? index : nil
            }
            if entry == -1 { return nil }
            return counts.indices.first { counts[$0] == count && words[2 * $0] == low && words[2 * $0 + 1] == high }
        }
    }

    /// Checks one field's value; `null` clears a field (never `title`).
    public static func validate(field: String, value: JSONValue) throws(ValidationError) {
        guard let index = fieldIndex(field) else {
            throw ValidationError(field: field, rule: "unknown field (known: \(fieldNames.joined(separator: ", ")))")
        }
        try validate(fieldAt: index, value: value)
    }

    /// Checks a value of the field at `index` (a valid position) in `fields`; `null` clears a field (never `title`).
    public static func validate(fieldAt index: Int, value: JSONValue) throws(ValidationError) {
        let spec = fields[index]
        let field = spec.name
        if case .null = value {
            if field == "title" { throw ValidationError(field: field, rule: "cannot be cleared: a title is required") }
            return
        }
        switch spec.kind {
        case .text(let min, let max, let trimmed):
            guard case .string(let s) = value else {
                throw ValidationError(field: field, rule: "must be a string, not \(value.typeName)")
            }
            // The byte limit first: it bounds the work of counting Characters below.
            let bytes = s.utf8.count
            let maxBytes = FieldKind.maxTextBytes(max)
            if bytes > maxBytes {
                throw ValidationError(field: field, rule: "must be at most \(maxBytes) bytes of UTF-8 (got \(bytes))")
            }
            // Characters never outnumber UTF-8 bytes, and text is non-empty exactly when its
            // bytes are: most values are decided without counting Characters. Text that starts
            // with a printable ASCII character is not empty after trimming.
            if bytes <= max && (min == 0 || (min == 1 && bytes >= 1 && (!trimmed || isPrintableASCII(s.utf8.first!)))) {
                return
            }
            let counted = trimmed ? s.trimmingWhitespace() : s[...]
            let countedBytes = counted.utf8.count
            if countedBytes <= max && (min == 0 || (min == 1 && countedBytes >= 1)) { return }
            let count = counted.count
            if count < min {
                throw ValidationError(
                    field: field, rule: trimmed ? "must not be empty or only white space" : "must have at least \(min) characters"
                )
            }
            if count > max { throw ValidationError(field: field, rule: "must be at most \(max) characters (got \(count))") }
        case .choice(let options):
            guard case .string(let s) = value, options.contains(s) else {
                throw ValidationError(
                    field: field, rule: "must be one of \(options.joined(separator: ", ")) (got \(value.serialized()))")
            }
        case .integer(let range):
            guard case .int(let i) = value else {
                throw ValidationError(
                    field: field,
                    rule: "must be a whole number from \(range.lowerBound) to \(range.upperBound) (got \(value.serialized()))")
            }
            guard range.contains(i) else {
                throw ValidationError(field: field, rule: "must be from \(range.lowerBound) to \(range.upperBound) (got \(i))")
            }
        case .number(let range):
            guard let d = value.doubleValue else {
                throw ValidationError(field: field, rule: "must be a number, not \(value.typeName)")
            }
            guard d.isFinite, range.contains(d) else {
                throw ValidationError(
                    field: field,
                    rule:
                        "must be a finite number from \(Int(range.lowerBound)) to \(Int(range.upperBound)) (got \(value.serialized()))"
                )
            }
        case .dateTime:
            guard case .string(let s) = value else {
                throw ValidationError(field: field, rule: "must be a string, not \(value.typeName)")
            }
            if isCommonDate(s) { return }
            if let problem = DateText.problem(s) {
                throw ValidationError(
                    field: field,
                    rule: "must be an RFC 3339 date-time or a YYYY-MM-DD date, years 1900–2100: \(problem) (got \"\(s)\")")
            }
        }
    }

    @inline(__always)
    private static func isPrintableASCII(_ byte: UInt8) -> Bool { byte > 0x20 && byte < 0x7F }

    /// Whether a byte may appear in a plain decimal number (digits, `.`, signs, exponent): text
    /// such as `nan`, `inf` or `0x1p3` that `Double` would take is refused.
    @inline(__always)
    private static func isDecimalNumberByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
            || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
    }

    /// Whether `text` is `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ` as `DateText` accepts it (years
    /// 1900–2100, real days, times of day in range); false means `DateText` has to decide.
    static func isCommonDate(_ text: String) -> Bool {
        let decided = text.utf8.withContiguousStorageIfAvailable { b -> Bool in
            guard b.count == 10 || b.count == 20 else { return false }
            func number(_ start: Int, _ count: Int) -> Int? {
                var n = 0
                for i in start..<(start + count) {
                    let d = b[i] &- UInt8(ascii: "0")
                    guard d < 10 else { return nil }
                    n = n * 10 + Int(d)
                }
                return n
            }
            guard let year = number(0, 4), b[4] == UInt8(ascii: "-"), let month = number(5, 2), b[7] == UInt8(ascii: "-"),
                let day = number(8, 2), (1900...2100).contains(year), (1...12).contains(month), day >= 1
            else { return false }
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            let days: Int
            switch month {
            case 2: days = leap ? 29 : 28
            case 4, 6, 9, 11: days = 30
            default: days = 31
            }
            guard day <= days else { return false }
            if b.count == 10 { return true }
            guard b[10] == UInt8(ascii: "T"), let hour = number(11, 2), b[13] == UInt8(ascii: ":"), let minute = number(14, 2),
                b[16] == UInt8(ascii: ":"), let second = number(17, 2), b[19] == UInt8(ascii: "Z")
            else { return false }
            return hour <= 23 && minute <= 59 && second <= 60
        }
        return decided ?? false
    }

    /// Checks every write of a change: known fields with valid values, or `_deleted` as a boolean.
    public static func validate(writes: [String: JSONValue]) throws(ValidationError) {
        // The common case (all valid) without sorting; on a failure, the first field by name is reported.
        if (try? validateUnordered(writes)) != nil { return }
        for field in writes.keys.sorted() {
            let value = writes[field]!
            if field == Change.deletedField {
                guard case .bool = value else { throw ValidationError(field: field, rule: "must be true or false") }
                continue
            }
            try validate(field: field, value: value)
        }
    }

    private static func validateUnordered(_ writes: [String: JSONValue]) throws(ValidationError) {
        for (field, value) in writes {
            if field == Change.deletedField {
                guard case .bool = value else { throw ValidationError(field: field, rule: "must be true or false") }
                continue
            }
            try validate(field: field, value: value)
        }
    }

    /// Checks the fields of a new incident: valid values and a title.
    public static func validateNew(fields: [String: JSONValue]) throws(ValidationError) {
        guard let title = fields["title"], title != .null else {
            throw ValidationError(field: "title", rule: "is required for a new incident")
        }
        _ = title
        for field in fields.keys where field == Change.deletedField {
            throw ValidationError(field: field, rule: "is set by delete and restore, not as a field")
        }
        try validate(writes: fields)
    }

    /// Parses a field's value from command-line or CSV text by the field's kind.
    public static func value(field: String, text: String) throws(ValidationError) -> JSONValue {
        guard let index = fieldIndex(field) else {
            throw ValidationError(field: field, rule: "unknown field (known: \(fieldNames.joined(separator: ", ")))")
        }
        return try value(fieldAt: index, text: text)
    }

    /// Parses and checks a value of the field at `index` (a valid position) in `fields` from text.
    public static func value(fieldAt index: Int, text: String) throws(ValidationError) -> JSONValue {
        let field = fields[index].name
        let value: JSONValue
        switch fields[index].kind {
        case .integer(let range):
            guard let i = Int64(text) else {
                throw ValidationError(
                    field: field, rule: "must be a whole number from \(range.lowerBound) to \(range.upperBound) (got \"\(text)\")"
                )
            }
            value = .int(i)
        case .number:
            if let i = Int64(text) {
                value = .int(i)
            } else if let d = Double(text), d.isFinite, text.utf8.allSatisfy(isDecimalNumberByte) {
                value = .double(d)
            } else {
                throw ValidationError(field: field, rule: "must be a number (got \"\(text)\")")
            }
        default:
            value = .string(text)
        }
        try validate(fieldAt: index, value: value)
        return value
    }
}

extension String {
    /// The string without leading and trailing white space and newlines.
    func trimmingWhitespace() -> Substring {
        var s = self[...]
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return s
    }
}
