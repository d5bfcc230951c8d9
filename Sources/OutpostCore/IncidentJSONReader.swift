/// Reads incident rows — flat JSON objects of incident fields — straight into checked values,
/// without building a `JSONValue` tree first; the fast path of bulk import.
public struct IncidentJSONReader {
    /// An incident's id (when given) and its fields, null fields left out.
    public struct Row: Hashable, Sendable {
        /// The `id` member when it is a string.
        public var id: String?
        /// Field name → valid value.
        public var fields: [String: JSONValue] {
            didSet { readValid = false }
        }
        /// Whether `fields` are as the reader read them, every value checked.
        private var readValid = false

        /// Makes a row.
        public init(id: String?, fields: [String: JSONValue]) {
            self.id = id
            self.fields = fields
        }

        /// A row the reader read, each value checked as it was read.
        fileprivate init(readID id: String?, fields: [String: JSONValue]) {
            self.init(id: id, fields: fields)
            readValid = true
        }

        /// The fields as a new incident's, when the reader read and checked them and they have a
        /// title (nil otherwise: check them with `CheckedIncidentFields.init(_:)`).
        public var checkedNew: CheckedIncidentFields? {
            readValid ? CheckedIncidentFields(checkedValues: fields) : nil
        }

        public static func == (a: Row, b: Row) -> Bool { a.id == b.id && a.fields == b.fields }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(id)
            hasher.combine(fields)
        }
    }

    /// Field names and options, laid out for lookups by bytes.
    private let table = IncidentSchema.table
    /// The values read from the current row, and the dictionaries made of them.
    private var assembler = IncidentFieldAssembler()

    /// A reader; it keeps what it learned about earlier rows to read later rows faster.
    public init() {}

    /// The row in `buffer` when it is one JSON object (white space around it allowed) whose members
    /// are `id` (a string or null) and incident fields with valid scalar values or null; nil for
    /// anything else — other keys, nesting, invalid values or malformed JSON — which
    /// `JSONParser.parse` and `IncidentSchema.validate` then explain.
    public mutating func read(_ buffer: UnsafeBufferPointer<UInt8>) -> Row? {
        var parser = JSONParser(buffer: buffer)
        guard let (id, present) = try? read(&parser) else { return nil }
        return Row(readID: id, fields: assembler.take(present))
    }

    /// The id and the set of non-null fields (their values in `assembler`) of the object at `parser.index`.
    private mutating func read(_ parser: inout JSONParser) throws(JSONParseError) -> (String?, UInt64)? {
        let buffer = parser.buffer
        parser.skipWhitespace()
        guard parser.index < buffer.count, buffer[parser.index] == UInt8(ascii: "{") else { return nil }
        parser.index += 1
        var id: String?
        var seen: UInt64 = 0  // bit i: field i; bit 63: id
        var present: UInt64 = 0
        parser.skipWhitespace()
        if parser.index < buffer.count && buffer[parser.index] == UInt8(ascii: "}") {
            parser.index += 1
        } else {
            while true {
                parser.skipWhitespace()
                guard let field = readKey(&parser) else { return nil }
                let bit: UInt64 = field < 0 ? 1 << 63 : 1 << UInt64(field)
                guard seen & bit == 0 else { return nil }
                seen |= bit
                parser.skipWhitespace()
                guard parser.index < buffer.count, buffer[parser.index] == UInt8(ascii: ":") else { return nil }
                parser.index += 1
                parser.skipWhitespace()
                guard parser.index < buffer.count else { return nil }
                let first = buffer[parser.index]
                if first == UInt8(ascii: "n") {
                    try parser.expectLiteral("null")
                } else if field < 0 {
                    guard first == UInt8(ascii: "\"") else { return nil }
                    id = try parser.parseString()
                } else {
                    guard let value = try readValue(&parser, field: field, first: first) else { return nil }
                    assembler.set(field, value)
                    present |= bit
                }
                parser.skipWhitespace()
                guard parser.index < buffer.count else { return nil }
                if buffer[parser.index] == UInt8(ascii: ",") {
                    parser.index += 1
                } else if buffer[parser.index] == UInt8(ascii: "}") {
                    parser.index += 1
                    break
                } else {
                    return nil
                }
            }
        }
        parser.skipWhitespace()
        guard parser.index == buffer.count else { return nil }
        return (id, present)
    }

    /// The field of the key at `parser.index` (-1 for `id`), when it is a field name or `id` without escapes.
    private func readKey(_ parser: inout JSONParser) -> Int? {
        let buffer = parser.buffer
        guard parser.index < buffer.count, buffer[parser.index] == UInt8(ascii: "\"") else { return nil }
        let start = parser.index + 1
        if start + 16 <= buffer.count, let base = buffer.baseAddress {
            // Field names are at most 16 bytes: find the closing quote among the next 16 bytes
            // and compare the name as two words. Bytes that are no name's (escapes, control
            // characters, other keys) match nothing and go the general way.
            let raw = UnsafeRawPointer(base + start)
            let low = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
            let high = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            let count: Int
            let lowQuotes = ByteWords.zeroBytes(low ^ 0x2222_2222_2222_2222)
            if lowQuotes != 0 {
                count = lowQuotes.trailingZeroBitCount >> 3
            } else {
                let highQuotes = ByteWords.zeroBytes(high ^ 0x2222_2222_2222_2222)
                guard highQuotes != 0 else { return nil }
                count = 8 + highQuotes.trailingZeroBitCount >> 3
            }
            parser.index = start + count + 1
            let name = count >= 8 ? (low, high & Self.lowBytes(count - 8)) : (low & Self.lowBytes(count), 0)
            if let field = table.fieldIndex(count: count, low: name.0, high: name.1) { return field }
            return count == 2 && name.0 == 0x6469 ? -1 : nil  // "id"
        }
        var end = start
        while end < buffer.count && buffer[end] != UInt8(ascii: "\"") {
            let byte = buffer[end]
            if byte == UInt8(ascii: "\\") || byte < 0x20 || byte >= 0x80 || end - start == 16 { return nil }
            end += 1
        }
        guard end < buffer.count else { return nil }
        parser.index = end + 1
        let key = UnsafeBufferPointer(rebasing: buffer[start..<end])
        if let field = IncidentSchema.fieldIndex(utf8: key) { return field }
        if key.count == 2 && key[0] == UInt8(ascii: "i") && key[1] == UInt8(ascii: "d") { return -1 }
        return nil
    }

    /// A mask of the `count` (0–8) low bytes of a word.
    @inline(__always)
    private static func lowBytes(_ count: Int) -> UInt64 {
        count >= 8 ? ~0 : (1 << UInt64(8 * count)) &- 1
    }

    /// The non-null value of `field` at `parser.index`, when it is a valid scalar.
    private func readValue(_ parser: inout JSONParser, field: Int, first: UInt8) throws(JSONParseError) -> JSONValue? {
        let value: JSONValue
        if first == UInt8(ascii: "\"") {
            let options = table.optionRanges[field]
            if !options.isEmpty { return readOption(&parser, options) }
            value = .string(try parser.parseString())
        } else if first == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) {
            value = try parser.parseNumber()
        } else {
            return nil
        }
        do { try IncidentSchema.validate(fieldAt: field, value: value) } catch { return nil }
        return value
    }

    /// The option whose text is the string at `parser.index`, byte for byte and without escapes.
    private func readOption(_ parser: inout JSONParser, _ options: Range<Int>) -> JSONValue? {
        let buffer = parser.buffer
        let start = parser.index + 1
        var end = start
        while end < buffer.count && buffer[end] != UInt8(ascii: "\"") {
            let byte = buffer[end]
            if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
            end += 1
        }
        guard end < buffer.count else { return nil }
        let text = UnsafeBufferPointer(rebasing: buffer[start..<end])
        let head = ByteWords.littleEndianWord(text)
        for option in options where table.optionCounts[option] == text.count && table.optionHeads[option] == head {
            if text.count <= 8 || table.optionUTF8[option].withUnsafeBufferPointer({ $0.elementsEqual(text) }) {
                parser.index = end + 1
                return .string(table.optionTexts[option])
            }
        }
        return nil
    }
}
