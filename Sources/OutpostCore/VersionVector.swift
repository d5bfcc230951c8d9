/// Maps replica → highest counter of that replica's changes applied (to a record).
public struct VersionVector: Hashable, Sendable {
    /// The entries; a missing replica counts as 0.
    public private(set) var entries: [ReplicaID: UInt64]

    /// An empty vector, or one with the given entries (zero entries are dropped).
    public init(_ entries: [ReplicaID: UInt64] = [:]) {
        self.entries = entries.filter { $0.value > 0 }
    }

    /// The counter for a replica, 0 when absent.
    public subscript(replica: ReplicaID) -> UInt64 {
        get { entries[replica] ?? 0 }
        set {
            if newValue == 0 { entries[replica] = nil } else { entries[replica] = newValue }
        }
    }

    /// Whether the dot is covered: `self[dot.replica] >= dot.counter`.
    public func covers(_ dot: Dot) -> Bool { self[dot.replica] >= dot.counter }

    /// Whether every entry of `other` is covered by this vector.
    public func covers(_ other: VersionVector) -> Bool {
        for (replica, counter) in other.entries where self[replica] < counter { return false }
        return true
    }

    /// The entry-wise maximum of both vectors.
    public func merged(with other: VersionVector) -> VersionVector {
        var result = self
        result.merge(other)
        return result
    }

    /// Takes the entry-wise maximum in place.
    public mutating func merge(_ other: VersionVector) {
        for (replica, counter) in other.entries where self[replica] < counter { entries[replica] = counter }
    }

    /// Whether the vector has no entries.
    public var isEmpty: Bool { entries.isEmpty }

    /// The vector as a JSON object: replica hex → counter.
    public var json: JSONValue {
        .object(Dictionary(uniqueKeysWithValues: entries.map { ($0.key.hex, .int(Int64($0.value))) }))
    }

    /// Reads a vector from a JSON object of replica hex → positive counter.
    public init(json: JSONValue) throws(ChangeFormatError) {
        guard case .object(let members) = json else { throw ChangeFormatError("deps must be an object") }
        var entries: [ReplicaID: UInt64] = [:]
        for (key, value) in members {
            guard let replica = ReplicaID(hex: key) else {
                throw ChangeFormatError("deps key \"\(key)\" is not a hex replica id")
            }
            guard case .int(let n) = value, n >= 0 else { throw ChangeFormatError("deps[\(key)] must be a whole number ≥ 0") }
            if n > 0 { entries[replica] = UInt64(n) }
        }
        self.entries = entries
    }
}
