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
        .object(Dictionary(uniqueKeysWithValues: entries.map { ($0.key.hex, .int(Int64(clamping: $0.value))) }))
    }

    /// Reads a vector from a JSON object of lowercase replica hex → counter, with the wire's
    /// bounds (counters from 1 to 2^53 − 1, at most `Change.maxDepsEntries` entries).
    public init(json: JSONValue) throws(ChangeFormatError) {
        try self.init(json: json, decoding: .wire)
    }

    /// Reads a vector from a JSON object of lowercase replica hex → counter, checked as
    /// `decoding` says (`.stored` takes counters ≥ 0 and drops zeros).
    public init(json: JSONValue, decoding: ChangeDecoding) throws(ChangeFormatError) {
        guard case .object(let members) = json else { throw ChangeFormatError("deps must be an object") }
        if let problem = Change.depsCountProblem(members.count, decoding) { throw ChangeFormatError(problem) }
        var entries: [ReplicaID: UInt64] = [:]
        entries.reserveCapacity(members.count)
        // In key order, so the error names the same entry on every run.
        for key in members.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            guard let replica = ReplicaID(hex: key) else {
                throw ChangeFormatError("deps key \"\(key)\" is not a replica id in lowercase hex (2–128 digits 0-9a-f)")
            }
            guard case .int(let n)? = members[key] else {
                throw ChangeFormatError(
                    "deps[\(key)] must be a whole number from \(decoding == .wire ? 1 : 0) to \(Change.counterRange.upperBound) (2^53 − 1)"
                )
            }
            if let problem = Change.depsCounterProblem(key, n, decoding) { throw ChangeFormatError(problem) }
            // Lowercase hex has one spelling per replica: distinct keys are distinct replicas.
            if n > 0 { entries[replica] = UInt64(n) }
        }
        self.entries = entries
    }
}
