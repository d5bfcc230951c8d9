/// Maps replicas to small local numbers (a store's `replicas` table), for the compact stored
/// record state: `RecordState.encodedBinary(numbering:)` and `RecordState(binary:numbering:)`.
public protocol ReplicaNumbering {
    /// The local number of a replica, registering it when new.
    func number(of replica: ReplicaID) throws -> Int64
    /// The replica with a local number.
    func replica(numbered number: Int64) throws -> ReplicaID
    /// The reporter name recorded for the replica with a local number, when any.
    func reporter(numbered number: Int64) throws -> String?
}

extension RecordState {
    /// The first byte of the compact stored form (its format version).
    public static let binaryFormat: UInt8 = 0xB1

    /// Field names coded as one byte in the compact form. Append only: stored states refer to
    /// fields by position here (code 1 + index); code 0 is followed by the field's name.
    static let fieldCodebook: [String] = [
        "_deleted", "title", "narrative", "event_type", "occurred_at", "date_precision", "lat", "lon", "geo_precision",
        "place_name", "admin1", "admin2", "killed", "injured", "abducted", "displaced", "perpetrator", "target",
        "source_type", "confidence", "sensitivity", "status", "review_note", "duplicate_of",
    ]
    static let fieldCodes: [String: UInt8] = Dictionary(
        uniqueKeysWithValues: fieldCodebook.enumerated().map { ($0.element, UInt8($0.offset + 1)) })

    /// The compact stored form: replicas by local number, each writing change's dot, tag and
    /// reporter once (siblings refer to it), and the reporter left out when it is the one the
    /// numbering records for that replica.
    ///
    /// Layout (varints are LEB128, `z` marks zigzag): `0xB1`, version `n (replica counter)*n`,
    /// writes `n (replica counter z(ms) seq reporterMode [len bytes])*n` (mode 0 none, 1 the
    /// replica's recorded reporter, 2 given), fields `n (code [len name] m (write value deps)*m)*n`.
    /// Values: 0 null, 1 false, 2 true, 3 z(int), 4 double bits (8 bytes LE), 5 len UTF-8,
    /// 6 len JSON text. Deps: 0 none, else 1 and a vector.
    public func encodedBinary<N: ReplicaNumbering>(numbering: N) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(32 + fields.count * 24)
        try writeBinary(numbering: numbering, to: &out)
        return out
    }

    /// Appends `encodedBinary(numbering:)` to `out` (a caller reusing one buffer).
    public func writeBinary<N: ReplicaNumbering>(numbering: N, to out: inout [UInt8]) throws {
        out.append(RecordState.binaryFormat)
        try Self.writeVector(version, numbering: numbering, to: &out)

        // Distinct writes (dot, tag, reporter), in first-seen order; siblings refer to them.
        // Fields go in dictionary order: the reader does not depend on it.
        // Found through a table: a linear search per sibling made a record with many siblings (a
        // hostile author's writes that never cover each other) cost quadratic time per batch.
        var writes: [Sibling] = []
        var refs: [Int] = []
        var positions: [WriteIdentity: Int] = [:]
        for (_, siblings) in fields {
            for s in siblings {
                let identity = WriteIdentity(dot: s.dot, tag: s.tag, reporter: s.reporter)
                let found: Int
                if let known = positions[identity] {
                    found = known
                } else {
                    found = writes.count
                    positions[identity] = found
                    writes.append(s)
                }
                refs.append(found)
            }
        }
        writeVarint(UInt64(writes.count), to: &out)
        for w in writes {
            try Self.writeWriteEntry(
                number: try numbering.number(of: w.dot.replica), dot: w.dot, tag: w.tag, reporter: w.reporter,
                numbering: numbering, to: &out)
        }
        writeVarint(UInt64(fields.count), to: &out)
        var r = 0
        for (field, siblings) in fields {
            Self.writeFieldName(field, to: &out)
            writeVarint(UInt64(siblings.count), to: &out)
            for sibling in siblings {
                writeVarint(UInt64(refs[r]), to: &out)
                r += 1
                Self.writeValue(sibling.value, to: &out)
                if let deps = sibling.deps {
                    out.append(1)
                    try Self.writeVector(deps, numbering: numbering, to: &out)
                } else {
                    out.append(0)
                }
            }
        }
    }

    /// The compact stored form of the state `change` makes when applied to an empty record,
    /// written straight from the change (no `RecordState` is built): it decodes to exactly
    /// `RecordState()` with `change` applied. `change` must not write `_deleted` (its sibling
    /// keeps deps); callers build the state for such a change.
    public static func encodedBinary<N: ReplicaNumbering>(creating change: Change, numbering: N) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + change.writes.count * 32)
        try writeBinary(creating: change, numbering: numbering, to: &out)
        return out
    }

    /// Appends `encodedBinary(creating:numbering:)` to `out` (a caller reusing one buffer).
    public static func writeBinary<N: ReplicaNumbering>(creating change: Change, numbering: N, to out: inout [UInt8]) throws {
        assert(change.writes[Change.deletedField] == nil, "a creating change that writes _deleted needs the full state")
        out.append(RecordState.binaryFormat)
        let number = try numbering.number(of: change.dot.replica)
        // version: one entry, the change's own dot
        writeVarint(1, to: &out)
        writeVarint(UInt64(number), to: &out)
        writeVarint(change.dot.counter, to: &out)
        // writes: the one change
        writeVarint(1, to: &out)
        try writeWriteEntry(
            number: number, dot: change.dot, tag: change.tag, reporter: change.reporter, numbering: numbering, to: &out)
        // fields: one sibling each, referring to write 0, no deps
        writeVarint(UInt64(change.writes.count), to: &out)
        for (field, value) in change.writes {
            Self.writeFieldName(field, to: &out)
            out.append(1)  // one sibling
            out.append(0)  // write 0
            Self.writeValue(value, to: &out)
            out.append(0)  // no deps
        }
    }

    /// Reads the compact stored form back (see `encodedBinary(numbering:)`).
    public init<N: ReplicaNumbering>(binary: UnsafeBufferPointer<UInt8>, numbering: N) throws {
        var r = BinaryReader(buffer: binary)
        guard try r.byte() == RecordState.binaryFormat else { throw ChangeFormatError("unknown record state format") }
        let version = try Self.readVector(&r, numbering: numbering)
        let writeCount = try r.count()
        var writes: [Sibling] = []
        writes.reserveCapacity(writeCount)
        for _ in 0..<writeCount {
            let number = Int64(bitPattern: try r.varint())
            let replica = try numbering.replica(numbered: number)
            let counter = try r.counter()
            let ms = unzigzag(try r.varint())
            let seq = try r.varint()
            guard seq <= UInt64(UInt32.max) else { throw ChangeFormatError("record state: seq out of range") }
            let reporter: String?
            switch try r.byte() {
            case 0: reporter = nil
            case 1: reporter = try numbering.reporter(numbered: number)
            case 2: reporter = try r.string()
            default: throw ChangeFormatError("record state: bad reporter mode")
            }
            writes.append(
                Sibling(
                    value: .null, dot: Dot(replica: replica, counter: counter), tag: HLCTag(ms: ms, seq: UInt32(seq)),
                    reporter: reporter))
        }
        let fieldCount = try r.count()
        var fields: [String: [Sibling]] = [:]
        fields.reserveCapacity(fieldCount)
        for _ in 0..<fieldCount {
            let code = Int(try r.byte())
            let field: String
            if code == 0 {
                field = try r.string()
            } else {
                guard code <= Self.fieldCodebook.count else { throw ChangeFormatError("record state: unknown field code") }
                field = Self.fieldCodebook[code - 1]
            }
            let siblingCount = try r.count()
            var siblings: [Sibling] = []
            siblings.reserveCapacity(siblingCount)
            for _ in 0..<siblingCount {
                let w = try r.varint()
                guard w < UInt64(writes.count) else { throw ChangeFormatError("record state: bad write reference") }
                var sibling = writes[Int(w)]
                sibling.value = try Self.readValue(&r)
                switch try r.byte() {
                case 0: break
                case 1: sibling.deps = try Self.readVector(&r, numbering: numbering)
                default: throw ChangeFormatError("record state: bad deps flag")
                }
                siblings.append(sibling)
            }
            // Greatest write order first. A store written before the counter joined the order
            // may hold two writes with equal tags and author in arrival order.
            if siblings.count > 1 { siblings.sort { $0.order > $1.order } }
            fields[field] = siblings
        }
        guard r.atEnd else { throw ChangeFormatError("record state: trailing bytes") }
        self.init(version: version, fields: fields)
    }

    /// A field by its one-byte code, or 0 and its name when it has none.
    private static func writeFieldName(_ field: String, to out: inout [UInt8]) {
        if let code = fieldCodes[field] {
            out.append(code)
        } else {
            out.append(0)
            writeBytes(field, to: &out)
        }
    }

    /// One entry of the writes table: dot, tag and how the reporter is given.
    private static func writeWriteEntry<N: ReplicaNumbering>(
        number: Int64, dot: Dot, tag: HLCTag, reporter: String?, numbering: N, to out: inout [UInt8]
    ) throws {
        writeVarint(UInt64(number), to: &out)
        writeVarint(dot.counter, to: &out)
        writeVarint(zigzag(tag.ms), to: &out)
        writeVarint(UInt64(tag.seq), to: &out)
        if let reporter {
            if try numbering.reporter(numbered: number) == reporter {
                out.append(1)
            } else {
                out.append(2)
                writeBytes(reporter, to: &out)
            }
        } else {
            out.append(0)
        }
    }

    private static func writeVector<N: ReplicaNumbering>(_ v: VersionVector, numbering: N, to out: inout [UInt8]) throws {
        writeVarint(UInt64(v.entries.count), to: &out)
        for (replica, counter) in v.entries {
            writeVarint(UInt64(try numbering.number(of: replica)), to: &out)
            writeVarint(counter, to: &out)
        }
    }

    private static func readVector<N: ReplicaNumbering>(_ r: inout BinaryReader, numbering: N) throws -> VersionVector {
        let n = try r.count()
        var entries: [ReplicaID: UInt64] = [:]
        entries.reserveCapacity(n)
        for _ in 0..<n {
            let replica = try numbering.replica(numbered: Int64(bitPattern: try r.varint()))
            entries[replica] = try r.counter()
        }
        return VersionVector(entries)
    }

    private static func writeValue(_ value: JSONValue, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(0)
        case .bool(let b): out.append(b ? 2 : 1)
        case .int(let i):
            out.append(3)
            writeVarint(zigzag(i), to: &out)
        case .double(let d):
            out.append(4)
            var bits = d.bitPattern
            for _ in 0..<8 {
                out.append(UInt8(truncatingIfNeeded: bits))
                bits >>= 8
            }
        case .string(let s):
            out.append(5)
            writeBytes(s, to: &out)
        case .array, .object:
            out.append(6)
            let json = value.serializedBytes()
            writeVarint(UInt64(json.count), to: &out)
            out.append(contentsOf: json)
        }
    }

    private static func readValue(_ r: inout BinaryReader) throws -> JSONValue {
        switch try r.byte() {
        case 0: return .null
        case 1: return .bool(false)
        case 2: return .bool(true)
        case 3: return .int(unzigzag(try r.varint()))
        case 4:
            var bits: UInt64 = 0
            let bytes = try r.bytes(8)
            for i in (0..<8).reversed() { bits = bits << 8 | UInt64(bytes[i]) }
            return .double(Double(bitPattern: bits))
        case 5: return .string(try r.string())
        case 6: return try JSONParser.parse(try r.bytes(try r.count()))
        default: throw ChangeFormatError("record state: bad value tag")
        }
    }
}

@inline(__always)
private func zigzag(_ v: Int64) -> UInt64 { UInt64(bitPattern: (v << 1) ^ (v >> 63)) }

@inline(__always)
private func unzigzag(_ v: UInt64) -> Int64 { Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1) }

@inline(__always)
private func writeVarint(_ value: UInt64, to out: inout [UInt8]) {
    var v = value
    while v >= 0x80 {
        out.append(UInt8(truncatingIfNeeded: v) | 0x80)
        v >>= 7
    }
    out.append(UInt8(v))
}

private func writeBytes(_ text: String, to out: inout [UInt8]) {
    var text = text
    text.withUTF8 { buffer in
        writeVarint(UInt64(buffer.count), to: &out)
        out.append(contentsOf: buffer)
    }
}

/// Reads the compact form with bounds checks; every overrun is a format error.
private struct BinaryReader {
    let buffer: UnsafeBufferPointer<UInt8>
    var position = 0

    var atEnd: Bool { position == buffer.count }

    mutating func byte() throws(ChangeFormatError) -> UInt8 {
        guard position < buffer.count else { throw ChangeFormatError("record state: truncated") }
        defer { position += 1 }
        return buffer[position]
    }

    mutating func varint() throws(ChangeFormatError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw ChangeFormatError("record state: varint too long") }
            result |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return result }
            shift += 7
        }
    }

    /// A counter: at most `Int64.max`, so that writing it as a JSON number never traps.
    mutating func counter() throws(ChangeFormatError) -> UInt64 {
        let n = try varint()
        guard n <= UInt64(Int64.max) else { throw ChangeFormatError("record state: counter out of range") }
        return n
    }

    /// A length or count, checked against what is left.
    mutating func count() throws(ChangeFormatError) -> Int {
        let n = try varint()
        guard n <= UInt64(buffer.count - position) else { throw ChangeFormatError("record state: bad length") }
        return Int(n)
    }

    mutating func bytes(_ n: Int) throws(ChangeFormatError) -> UnsafeBufferPointer<UInt8> {
        guard n <= buffer.count - position else { throw ChangeFormatError("record state: truncated") }
        defer { position += n }
        return UnsafeBufferPointer(rebasing: buffer[position..<(position + n)])
    }

    mutating func string() throws(ChangeFormatError) -> String {
        String(decoding: try bytes(try count()), as: UTF8.self)
    }
}

/// What makes two siblings one write in the binary form: the change (dot), its tag and reporter.
private struct WriteIdentity: Hashable {
    var dot: Dot
    var tag: HLCTag
    var reporter: String?
}
