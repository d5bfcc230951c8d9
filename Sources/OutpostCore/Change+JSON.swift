extension Change {
    /// The change as its wire-format JSON object (see `Schema/change.schema.json`).
    public var json: JSONValue {
        var members: [String: JSONValue] = [
            "replica": .string(dot.replica.hex),
            "counter": .int(Int64(clamping: dot.counter)),
            "collection": .string(record.collection),
            "id": .string(record.id),
            "deps": deps.json,
            "ms": .int(tag.ms),
            "seq": .int(Int64(tag.seq)),
            "writes": .object(writes),
        ]
        if let reporter { members["reporter"] = .string(reporter) }
        if let sig { members["sig"] = .string(Base64URL.encode(sig)) }
        return .object(members)
    }

    /// Reads a change from its wire-format JSON, checking every key's type and range.
    public init(json: JSONValue) throws(ChangeFormatError) {
        try self.init(json: json, decoding: .wire)
    }

    /// Reads a change from its wire-format JSON, checking every key's type and, as `decoding`
    /// says, its range.
    public init(json: JSONValue, decoding: ChangeDecoding) throws(ChangeFormatError) {
        guard case .object(let o) = json else { throw ChangeFormatError("a change must be a JSON object") }
        for key in o.keys where !Change.wireKeys.contains(key) {
            throw ChangeFormatError("unknown key \"\(key)\" in change")
        }
        guard case .string(let replicaHex)? = o["replica"], let replica = ReplicaID(hex: replicaHex) else {
            throw ChangeFormatError("replica must be a replica id in lowercase hex (2–128 digits 0-9a-f)")
        }
        guard case .int(let counter)? = o["counter"] else {
            throw ChangeFormatError("counter must be a whole number from 1 to \(Change.counterRange.upperBound) (2^53 − 1)")
        }
        if let problem = Change.counterProblem(counter, decoding) { throw ChangeFormatError(problem) }
        let collection: String
        switch o["collection"] {
        case .string(let c)?: collection = c
        case nil: collection = RecordKey.incidents
        default: throw ChangeFormatError("collection must be a string")
        }
        guard collection == RecordKey.incidents else {
            throw ChangeFormatError("unknown collection \"\(collection)\"")
        }
        guard case .string(let id)? = o["id"] else { throw ChangeFormatError("id must be a string") }
        if let problem = Change.idProblem(id, decoding) { throw ChangeFormatError(problem) }
        let deps = try VersionVector(json: o["deps"] ?? .object([:]), decoding: decoding)
        guard case .int(let ms)? = o["ms"] else {
            throw ChangeFormatError(
                "ms must be a whole number from \(Change.msRange.lowerBound) to \(Change.msRange.upperBound) (1970-01-01 to 9999-12-31)"
            )
        }
        if let problem = Change.msProblem(ms, decoding) { throw ChangeFormatError(problem) }
        let seq: Int64
        switch o["seq"] {
        case .int(let s)?:
            if let problem = Change.seqProblem(s) { throw ChangeFormatError(problem) }
            seq = s
        case nil: seq = 0
        default: throw ChangeFormatError("seq must be a whole number from 0 to \(UInt32.max) (2^32 − 1)")
        }
        guard case .object(let writes)? = o["writes"], !writes.isEmpty else {
            throw ChangeFormatError("writes must be a non-empty object")
        }
        for (field, value) in writes where !value.isScalar {
            throw ChangeFormatError("writes.\(field) must be a JSON scalar")
        }
        var reporter: String? = nil
        switch o["reporter"] {
        case .string(let r)?:
            if let problem = Change.reporterProblem(r, decoding) { throw ChangeFormatError(problem) }
            reporter = r
        case nil, .null?: break
        default: throw ChangeFormatError("reporter must be a string")
        }
        var sig: [UInt8]? = nil
        switch o["sig"] {
        case .string(let text)?:
            guard let bytes = Change.signature(fromText: text) else { throw ChangeFormatError(Change.sigRule) }
            sig = bytes
        case nil, .null?: break
        default: throw ChangeFormatError(Change.sigRule)
        }
        if deps[replica] >= UInt64(counter) {
            throw ChangeFormatError("deps cover the change's own dot \(replica.hex):\(counter)")
        }
        self.init(
            dot: Dot(replica: replica, counter: UInt64(counter)), record: RecordKey(collection: collection, id: id),
            deps: deps, tag: HLCTag(ms: ms, seq: UInt32(seq)), writes: writes, reporter: reporter, sig: sig)
    }

    /// The rule for `sig`, in words.
    public static let sigRule = "sig must be an Ed25519 signature in unpadded base64url (86 characters)"

    /// A signature's bytes from its unpadded base64url text; nil unless it is 64 bytes.
    public static func signature(fromText text: String) -> [UInt8]? {
        guard text.utf8.count == 86, let bytes = Base64URL.decode(text), bytes.count == signatureBytes else { return nil }
        return bytes
    }

    /// The keys a wire-format change may carry, in the order `ChangeWireReader` numbers them.
    static let wireKeyList = ["replica", "counter", "collection", "id", "deps", "ms", "seq", "writes", "reporter", "sig"]

    /// The keys a wire-format change may carry.
    public static let wireKeys = Set(wireKeyList)
}

extension Change {
    /// Reads a change from its wire-format JSON bytes: `init(wireBytes:)` when it can, else the
    /// tree path, whose error names the problem. Both accept the same changes.
    public init(jsonBytes buffer: UnsafeBufferPointer<UInt8>) throws {
        try self.init(jsonBytes: buffer, decoding: .wire)
    }

    /// Reads a change from a store's own change log: as `init(jsonBytes:)`, without refusing
    /// the values an older version may have stored (see `ChangeDecoding.stored`).
    public init(storedJSONBytes buffer: UnsafeBufferPointer<UInt8>) throws {
        try self.init(jsonBytes: buffer, decoding: .stored)
    }

    /// Reads a change from its JSON bytes, the fast path first, checked as `decoding` says.
    public init(jsonBytes buffer: UnsafeBufferPointer<UInt8>, decoding: ChangeDecoding) throws {
        var reader = ChangeWireReader(parser: JSONParser(buffer: buffer), decoding: decoding)
        if let change = try? reader.read() {
            self = change
        } else {
            self = try Change(json: try JSONParser.parse(buffer), decoding: decoding)
        }
    }

    /// Reads a change straight from its wire-format JSON bytes, without a tree for the change
    /// object; nil for any text `init(json:)` of the parsed text refuses, and for some it accepts
    /// (a key written with escapes): the caller then takes that general path.
    ///
    /// Where both accept, both give the same change: strings and numbers are read by the same
    /// parser, and every rule of `init(json:)` is checked here too.
    public init?(wireBytes buffer: UnsafeBufferPointer<UInt8>) {
        var reader = ChangeWireReader(parser: JSONParser(buffer: buffer), decoding: .wire)
        guard let change = try? reader.read() else { return nil }
        self = change
    }
}

/// The reader behind `Change(wireBytes:)`: nil or a thrown error for anything not plainly a valid change.
private struct ChangeWireReader {
    var parser: JSONParser
    /// Which bounds apply.
    let decoding: ChangeDecoding

    /// The keys, by position (bit `1 << k` marks key `k` as seen).
    private static let keys: [[UInt8]] = Change.wireKeyList.map { Array($0.utf8) }

    /// Room for every incident field and `_deleted`: a change's writes never grow the table.
    private static let writesCapacity = IncidentSchema.fields.count + 1

    private var buffer: UnsafeBufferPointer<UInt8> { parser.buffer }

    private mutating func expect(_ byte: UInt8) -> Bool {
        parser.skipWhitespace()
        guard parser.index < buffer.count, buffer[parser.index] == byte else { return false }
        parser.index += 1
        return true
    }

    /// The position in `keys` of the key at the parser (its opening quote), moved past it; nil for
    /// an unknown key or one with escapes.
    private mutating func key() -> Int? {
        guard parser.index < buffer.count, buffer[parser.index] == UInt8(ascii: "\"") else { return nil }
        let start = parser.index + 1
        var end = start
        while end < buffer.count, buffer[end] != UInt8(ascii: "\"") {
            if buffer[end] == UInt8(ascii: "\\") || buffer[end] < 0x20 { return nil }
            end += 1
        }
        guard end < buffer.count else { return nil }
        parser.index = end + 1
        let text = UnsafeBufferPointer(rebasing: buffer[start..<end])
        return Self.keys.firstIndex { $0.elementsEqual(text) }
    }

    /// A replica id written as plain lowercase hex at the parser (its opening quote), moved past
    /// it; nil for anything else (uppercase digits, escapes: the tree path reads those).
    private mutating func replicaID() -> ReplicaID? {
        parser.skipWhitespace()
        guard parser.index < buffer.count, buffer[parser.index] == UInt8(ascii: "\"") else { return nil }
        let start = parser.index + 1
        var end = start
        while end < buffer.count, ReplicaID.isLowercaseHexDigit(buffer[end]) { end += 1 }
        guard end < buffer.count, buffer[end] == UInt8(ascii: "\"") else { return nil }
        parser.index = end + 1
        return ReplicaID(hexUTF8: UnsafeBufferPointer(rebasing: buffer[start..<end]))
    }

    /// A deps object of plain lowercase hex keys and counters in range, each replica once and
    /// at most `Change.maxDepsEntries` of them; nil for anything else (the tree path then reads
    /// or refuses it). Linear: a replica named twice is found in the table being built.
    private mutating func readDeps() throws -> VersionVector? {
        guard expect(UInt8(ascii: "{")) else { return nil }
        var entries: [ReplicaID: UInt64] = [:]
        if expect(UInt8(ascii: "}")) { return VersionVector() }
        var count = 0
        repeat {
            count += 1
            guard Change.depsCountProblem(count, decoding) == nil, let replica = replicaID(), expect(UInt8(ascii: ":")),
                let n = try int(), Change.depsCounterProblem("", n, decoding) == nil,
                entries.updateValue(UInt64(n), forKey: replica) == nil
            else { return nil }
        } while expect(UInt8(ascii: ","))
        return expect(UInt8(ascii: "}")) ? VersionVector(entries) : nil
    }

    private mutating func string() throws -> String? {
        parser.skipWhitespace()
        guard parser.index < buffer.count, buffer[parser.index] == UInt8(ascii: "\"") else { return nil }
        return try parser.parseString()
    }

    private mutating func int() throws -> Int64? {
        parser.skipWhitespace()
        guard parser.index < buffer.count else { return nil }
        guard case .int(let n) = try parser.parseValue(depth: 1) else { return nil }
        return n
    }

    /// The writes object, its values all scalars.
    private mutating func readWrites() throws -> [String: JSONValue]? {
        guard expect(UInt8(ascii: "{")) else { return nil }
        var writes: [String: JSONValue] = Dictionary(minimumCapacity: Self.writesCapacity)
        if expect(UInt8(ascii: "}")) { return writes }
        repeat {
            guard let field = try string(), expect(UInt8(ascii: ":")) else { return nil }
            parser.skipWhitespace()
            guard parser.index < buffer.count, buffer[parser.index] != UInt8(ascii: "{"),
                buffer[parser.index] != UInt8(ascii: "[")
            else { return nil }
            // A field written twice is left to the tree path.
            guard writes.updateValue(try parser.parseValue(depth: 2), forKey: field) == nil else { return nil }
        } while expect(UInt8(ascii: ","))
        return expect(UInt8(ascii: "}")) ? writes : nil
    }

    mutating func read() throws -> Change? {
        guard expect(UInt8(ascii: "{")) else { return nil }
        var seen = 0
        var replica: ReplicaID?
        var counter: Int64 = 0
        var collection = RecordKey.incidents
        var id = ""
        var deps = VersionVector()
        var ms: Int64?
        var seq: Int64 = 0
        var writes: [String: JSONValue] = [:]
        var reporter: String?
        var sig: [UInt8]?
        repeat {
            parser.skipWhitespace()
            guard let k = key(), seen & (1 << k) == 0, expect(UInt8(ascii: ":")) else { return nil }
            seen |= 1 << k
            switch k {
            case 0:
                guard let r = replicaID() else { return nil }
                replica = r
            case 1:
                guard let n = try int(), Change.counterProblem(n, decoding) == nil else { return nil }
                counter = n
            case 2:
                guard let c = try string(), c == RecordKey.incidents else { return nil }
                collection = c
            case 3:
                guard let s = try string(), Change.idProblem(s, decoding) == nil else { return nil }
                id = s
            case 4:
                guard let v = try readDeps() else { return nil }
                deps = v
            case 5:
                guard let n = try int(), Change.msProblem(n, decoding) == nil else { return nil }
                ms = n
            case 6:
                guard let n = try int(), Change.seqProblem(n) == nil else { return nil }
                seq = n
            case 7:
                guard let w = try readWrites(), !w.isEmpty else { return nil }
                writes = w
            case 9:
                parser.skipWhitespace()
                guard parser.index < buffer.count else { return nil }
                switch try parser.parseValue(depth: 1) {
                case .string(let text):
                    guard let bytes = Change.signature(fromText: text) else { return nil }
                    sig = bytes
                case .null: sig = nil
                default: return nil
                }
            default:
                parser.skipWhitespace()
                guard parser.index < buffer.count else { return nil }
                switch try parser.parseValue(depth: 1) {
                case .string(let r):
                    guard Change.reporterProblem(r, decoding) == nil else { return nil }
                    reporter = r
                case .null: reporter = nil
                default: return nil
                }
            }
        } while expect(UInt8(ascii: ","))
        guard expect(UInt8(ascii: "}")) else { return nil }
        parser.skipWhitespace()
        guard parser.index == buffer.count, let replica, counter >= 1, !id.isEmpty, let ms, !writes.isEmpty,
            deps[replica] < UInt64(counter)
        else { return nil }
        return Change(
            dot: Dot(replica: replica, counter: UInt64(counter)), record: RecordKey(collection: collection, id: id),
            deps: deps, tag: HLCTag(ms: ms, seq: UInt32(seq)), writes: writes, reporter: reporter, sig: sig)
    }
}
