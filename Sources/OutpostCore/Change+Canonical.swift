extension Change {
    /// The prefix of a change's canonical bytes (`trust.md`).
    public static let canonicalPrefix = Array("OUTPOST-CHANGE-1\n".utf8)

    /// Length of an Ed25519 signature.
    public static let signatureBytes = 64

    /// The bytes a change's author signs (`trust.md`, "Signed changes"): every part of the
    /// change but `sig` and `reporter`, integers big-endian, deps and writes sorted by bytes, each
    /// value's kind taken from the field's type in the incident model (never from the JSON text).
    public func canonicalBytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128 + writes.count * 40 + deps.entries.count * 25)
        out.append(contentsOf: Change.canonicalPrefix)
        Canonical.shortBytes(dot.replica.bytes, to: &out)
        Canonical.u64(dot.counter, to: &out)
        Canonical.text16(record.collection, to: &out)
        Canonical.text16(record.id, to: &out)
        Canonical.u64(UInt64(bitPattern: tag.ms), to: &out)
        Canonical.u32(tag.seq, to: &out)
        let sortedDeps = deps.entries.filter { $0.value > 0 }.sorted { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }
        Canonical.u32(UInt32(truncatingIfNeeded: sortedDeps.count), to: &out)
        for (replica, counter) in sortedDeps {
            Canonical.shortBytes(replica.bytes, to: &out)
            Canonical.u64(counter, to: &out)
        }
        let sortedWrites = writes.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        Canonical.u32(UInt32(truncatingIfNeeded: sortedWrites.count), to: &out)
        for (field, value) in sortedWrites {
            Canonical.text16(field, to: &out)
            Canonical.value(value, kind: IncidentSchema.fieldIndex(field).map { IncidentSchema.fields[$0].kind }, to: &out)
        }
        return out
    }
}

/// Big-endian writers for canonical bytes.
enum Canonical {
    static func u64(_ n: UInt64, to out: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: n >> UInt64(shift))) }
    }

    static func u32(_ n: UInt32, to out: inout [UInt8]) {
        for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: n >> UInt32(shift))) }
    }

    static func u16(_ n: UInt16, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: n >> 8))
        out.append(UInt8(truncatingIfNeeded: n))
    }

    /// u8 length, then the bytes (replica ids: at most 64 bytes by the wire rules).
    static func shortBytes(_ bytes: [UInt8], to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: bytes.count))
        out.append(contentsOf: bytes)
    }

    /// u16 length, then the UTF-8 bytes.
    static func text16(_ text: String, to out: inout [UInt8]) {
        u16(UInt16(truncatingIfNeeded: text.utf8.count), to: &out)
        out.append(contentsOf: text.utf8)
    }

    /// A value: its kind byte, then its payload. The field's kind decides integer or number.
    static func value(_ value: JSONValue, kind: FieldKind?, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(0)
        case .bool(let b): out.append(b ? 2 : 1)
        case .int(let n):
            if case .number? = kind {
                out.append(4)
                u64(Double(n).bitPattern, to: &out)
            } else {
                out.append(3)
                u64(UInt64(bitPattern: n), to: &out)
            }
        case .double(let d):
            if case .integer? = kind, let n = Int64(exactly: d) {
                out.append(3)
                u64(UInt64(bitPattern: n), to: &out)
            } else {
                out.append(4)
                u64(d.bitPattern, to: &out)
            }
        case .string(let s):
            out.append(5)
            u32(UInt32(truncatingIfNeeded: s.utf8.count), to: &out)
            out.append(contentsOf: s.utf8)
        case .array, .object:
            // Never in a valid change (writes are scalars); spelled as its JSON text so the
            // bytes still differ from every other value.
            out.append(5)
            let text = value.serializedBytes()
            u32(UInt32(truncatingIfNeeded: text.count), to: &out)
            out.append(contentsOf: text)
        }
    }
}
