/// What a replica holds, per author: every change up to `contiguous`, plus a few beyond it.
///
/// Its size grows with the number of authors and gaps, not with the number of changes.
public struct SyncSummary: Hashable, Sendable {
    /// Per author: the contiguous prefix held and the counters held beyond it.
    public struct Entry: Hashable, Sendable {
        /// Changes 1…contiguous are all held.
        public var contiguous: UInt64
        /// Counters above `contiguous` that are held too.
        public var extra: Set<UInt64>

        /// Makes an entry.
        public init(contiguous: UInt64, extra: Set<UInt64> = []) {
            self.contiguous = contiguous
            self.extra = extra
        }
    }

    /// Author → what is held of its changes.
    public var entries: [ReplicaID: Entry]

    /// Makes a summary.
    public init(entries: [ReplicaID: Entry] = [:]) { self.entries = entries }

    /// Whether the change `dot` is held.
    public func contains(_ dot: Dot) -> Bool {
        guard let entry = entries[dot.replica] else { return false }
        return dot.counter <= entry.contiguous || entry.extra.contains(dot.counter)
    }

    /// The summary as JSON: `{"replica hex": {"contiguous": n, "extra": [..]}}`.
    public var json: JSONValue {
        .object(
            Dictionary(
                uniqueKeysWithValues: entries.map { replica, entry in
                    var o: [String: JSONValue] = ["contiguous": .int(Int64(clamping: entry.contiguous))]
                    if !entry.extra.isEmpty { o["extra"] = .array(entry.extra.sorted().map { .int(Int64(clamping: $0)) }) }
                    return (replica.hex, .object(o))
                }))
    }

    /// Reads a summary from JSON.
    public init(json: JSONValue) throws(ChangeFormatError) {
        guard case .object(let o) = json else { throw ChangeFormatError("a summary must be a JSON object") }
        var entries: [ReplicaID: Entry] = [:]
        for (key, value) in o {
            guard let replica = ReplicaID(hex: key) else {
                throw ChangeFormatError("summary key \"\(key)\" is not a replica id in lowercase hex (2–128 digits 0-9a-f)")
            }
            let maxCounter = Change.counterRange.upperBound
            guard case .int(let contiguous)? = value["contiguous"], contiguous >= 0, contiguous <= maxCounter else {
                throw ChangeFormatError("summary[\(key)].contiguous must be a whole number from 0 to \(maxCounter) (2^53 − 1)")
            }
            var extra = Set<UInt64>()
            if let list = value["extra"] {
                guard case .array(let items) = list else { throw ChangeFormatError("summary[\(key)].extra must be an array") }
                for item in items {
                    guard case .int(let n) = item, n > contiguous, n <= maxCounter else {
                        throw ChangeFormatError(
                            "summary[\(key)].extra must hold counters above contiguous, at most \(maxCounter) (2^53 − 1)")
                    }
                    extra.insert(UInt64(n))
                }
            }
            entries[replica] = Entry(contiguous: UInt64(contiguous), extra: extra)
        }
        self.init(entries: entries)
    }
}
