extension Change {
    /// The wire-format JSON bytes, written directly (same bytes as `json.serializedBytes()`, without the tree).
    public func encodedJSON() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(160 + writes.count * 32)
        write(to: &out)
        return out
    }

    /// Appends the wire-format JSON, keys sorted.
    public func write(to out: inout [UInt8]) {
        out.append(contentsOf: #"{"collection":"#.utf8)
        JSONValue.writeString(record.collection, to: &out)
        out.append(contentsOf: #","counter":"#.utf8)
        JSONValue.writeInt(Int64(clamping: dot.counter), to: &out)
        out.append(contentsOf: #","deps":"#.utf8)
        deps.write(to: &out)
        out.append(contentsOf: #","id":"#.utf8)
        JSONValue.writeString(record.id, to: &out)
        out.append(contentsOf: #","ms":"#.utf8)
        JSONValue.writeInt(tag.ms, to: &out)
        out.append(contentsOf: #","replica":"#.utf8)
        JSONValue.writeString(dot.replica.hex, to: &out)
        if let reporter {
            out.append(contentsOf: #","reporter":"#.utf8)
            JSONValue.writeString(reporter, to: &out)
        }
        out.append(contentsOf: #","seq":"#.utf8)
        JSONValue.writeInt(Int64(tag.seq), to: &out)
        if let sig {
            out.append(contentsOf: #","sig":"#.utf8)
            JSONValue.writeString(Base64URL.encode(sig), to: &out)
        }
        out.append(contentsOf: #","writes":"#.utf8)
        JSONValue.object(writes).write(to: &out)
        out.append(UInt8(ascii: "}"))
    }
}

extension VersionVector {
    /// Appends the vector as a JSON object (replica hex → counter), keys sorted.
    public func write(to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        if entries.count == 1, let (replica, counter) = entries.first {
            // The common case (a record edited by one replica so far), without sorting.
            JSONValue.writeString(replica.hex, to: &out)
            out.append(UInt8(ascii: ":"))
            JSONValue.writeInt(Int64(clamping: counter), to: &out)
            out.append(UInt8(ascii: "}"))
            return
        }
        var first = true
        for (hex, counter) in entries.map({ ($0.key.hex, $0.value) }).sorted(by: { $0.0 < $1.0 }) {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSONValue.writeString(hex, to: &out)
            out.append(UInt8(ascii: ":"))
            JSONValue.writeInt(Int64(clamping: counter), to: &out)
        }
        out.append(UInt8(ascii: "}"))
    }
}

extension RecordState {
    /// The stored form as JSON bytes, written directly (same bytes as `json.serializedBytes()`).
    public func encodedJSON() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + fields.count * 96)
        out.append(contentsOf: #"{"f":{"#.utf8)
        var first = true
        for field in fields.keys.sorted() {
            if !first { out.append(UInt8(ascii: ",")) }
            first = false
            JSONValue.writeString(field, to: &out)
            out.append(contentsOf: [UInt8(ascii: ":"), UInt8(ascii: "[")])
            for (i, s) in fields[field]!.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.append(UInt8(ascii: "["))
                s.value.write(to: &out)
                out.append(UInt8(ascii: ","))
                JSONValue.writeString(s.dot.replica.hex, to: &out)
                out.append(UInt8(ascii: ","))
                JSONValue.writeInt(Int64(clamping: s.dot.counter), to: &out)
                out.append(UInt8(ascii: ","))
                JSONValue.writeInt(s.tag.ms, to: &out)
                out.append(UInt8(ascii: ","))
                JSONValue.writeInt(Int64(s.tag.seq), to: &out)
                out.append(UInt8(ascii: ","))
                if let deps = s.deps { deps.write(to: &out) } else { out.append(contentsOf: "null".utf8) }
                out.append(UInt8(ascii: ","))
                if let reporter = s.reporter {
                    JSONValue.writeString(reporter, to: &out)
                } else {
                    out.append(contentsOf: "null".utf8)
                }
                out.append(UInt8(ascii: "]"))
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(contentsOf: #"},"v":"#.utf8)
        version.write(to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }
}
