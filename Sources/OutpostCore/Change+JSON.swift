extension Change {
    /// The change as its wire-format JSON object (see `Schema/change.schema.json`).
    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "replica": .string(dot.replica.hex),
            "counter": .int(Int64(dot.counter)),
            "collection": .string(record.collection),
            "id": .string(record.id),
            "deps": deps.json,
            "ms": .int(tag.ms),
            "seq": .int(Int64(tag.seq)),
            "writes": .object(writes),
        ]
        if let reporter { members["reporter"] = .string(reporter) }
        return .object(members)
    }

    /// Reads a change from its wire-format JSON, checking every key's type and range.
    public init(json: JSONValue) throws(ChangeFormatError) {
        guard case .object(let o) = json else { throw ChangeFormatError("a change must be a JSON object") }
        for key in o.keys where !Change.wireKeys.contains(key) {
            throw ChangeFormatError("unknown key \"\(key)\" in change")
        }
        guard case .string(let replicaHex)? = o["replica"], let replica = ReplicaID(hex: replicaHex) else {
            throw ChangeFormatError("replica must be a hex string")
        }
        guard case .int(let counter)? = o["counter"], counter >= 1 else {
            throw ChangeFormatError("counter must be a whole number ≥ 1")
        }
        let collection: String
        switch o["collection"] {
        case .string(let c)?: collection = c
        case nil: collection = RecordKey.incidents
        default: throw ChangeFormatError("collection must be a string")
        }
        guard collection == RecordKey.incidents else {
            throw ChangeFormatError("unknown collection \"\(collection)\"")
        }
        guard case .string(let id)? = o["id"], !id.isEmpty, id.utf8.count <= 200 else {
            throw ChangeFormatError("id must be a non-empty string of at most 200 bytes")
        }
        let deps = try VersionVector(json: o["deps"] ?? .object([:]))
        guard case .int(let ms)? = o["ms"] else { throw ChangeFormatError("ms must be a whole number") }
        let seq: Int64
        switch o["seq"] {
        case .int(let s)? where s >= 0 && s <= Int64(UInt32.max): seq = s
        case nil: seq = 0
        default: throw ChangeFormatError("seq must be a whole number from 0 to \(UInt32.max)")
        }
        guard case .object(let writes)? = o["writes"], !writes.isEmpty else {
            throw ChangeFormatError("writes must be a non-empty object")
        }
        for (field, value) in writes where !value.isScalar {
            throw ChangeFormatError("writes.\(field) must be a JSON scalar")
        }
        var reporter: String? = nil
        switch o["reporter"] {
        case .string(let r)?: reporter = r
        case nil, .null?: break
        default: throw ChangeFormatError("reporter must be a string")
        }
        if deps[replica] >= UInt64(counter) {
            throw ChangeFormatError("deps cover the change's own dot \(replica.hex):\(counter)")
        }
        self.init(
            dot: Dot(replica: replica, counter: UInt64(counter)), record: RecordKey(collection: collection, id: id),
            deps: deps, tag: HLCTag(ms: ms, seq: UInt32(seq)), writes: writes, reporter: reporter)
    }

    /// The keys a wire-format change may carry.
    public static let wireKeys: Set<String> = [
        "replica", "counter", "collection", "id", "deps", "ms", "seq", "writes", "reporter",
    ]
}
