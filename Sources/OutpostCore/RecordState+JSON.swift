extension RecordState {
    /// The stored form: `{"v": {replica: counter}, "f": {field: [[value, replica, counter, ms, seq, deps|null, reporter|null], …]}}`.
    public var json: JSONValue {
        var f: [String: JSONValue] = [:]
        for (field, siblings) in fields {
            f[field] = .array(
                siblings.map { s in
                    .array([
                        s.value, .string(s.dot.replica.hex), .int(Int64(clamping: s.dot.counter)), .int(s.tag.ms),
                        .int(Int64(s.tag.seq)), s.deps?.json ?? .null, s.reporter.map(JSONValue.string) ?? .null,
                    ])
                })
        }
        return .object(["v": version.json, "f": .object(f)])
    }

    /// Reads the stored form back.
    public init(json: JSONValue) throws(ChangeFormatError) {
        guard case .object(let o) = json, let v = o["v"], case .object(let f)? = o["f"] else {
            throw ChangeFormatError("record state must be {\"v\":…, \"f\":…}")
        }
        var fields: [String: [Sibling]] = [:]
        for (field, list) in f {
            guard case .array(let items) = list else { throw ChangeFormatError("siblings of \(field) must be an array") }
            var siblings: [Sibling] = []
            siblings.reserveCapacity(items.count)
            for item in items {
                guard case .array(let a) = item, a.count == 7, case .string(let hex) = a[1],
                    let replica = ReplicaID(hex: hex), case .int(let counter) = a[2], case .int(let ms) = a[3],
                    case .int(let seq) = a[4], counter >= 1
                else { throw ChangeFormatError("malformed sibling in \(field)") }
                let deps: VersionVector? = a[5] == .null ? nil : try VersionVector(json: a[5], decoding: .stored)
                siblings.append(
                    Sibling(
                        value: a[0], dot: Dot(replica: replica, counter: UInt64(counter)),
                        tag: HLCTag(ms: ms, seq: UInt32(truncatingIfNeeded: seq)), deps: deps,
                        reporter: a[6].stringValue))
            }
            fields[field] = siblings
        }
        self.init(version: try VersionVector(json: v, decoding: .stored), fields: fields)
    }
}
