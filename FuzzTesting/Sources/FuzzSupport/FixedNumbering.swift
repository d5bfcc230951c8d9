import OutpostCore

/// A store's replica numbering, made small and fixed: numbers 1–4 name four replicas (1 and 2
/// with reporter names), every other number is unknown, as in a store whose `replicas` table
/// lacks it.
public struct FixedNumbering: ReplicaNumbering {
    /// The replicas, by number − 1.
    public static let replicas: [ReplicaID] = (1...4).map { ReplicaID(bytes: Array(repeating: UInt8($0 * 0x11), count: 16)) }
    /// The reporter names, by number − 1.
    public static let reporters: [String?] = ["alice", "bob", nil, nil]

    /// A replica number the numbering does not know.
    public struct UnknownReplica: Error {}

    /// Makes the numbering.
    public init() {}

    public func number(of replica: ReplicaID) throws -> Int64 {
        guard let index = Self.replicas.firstIndex(of: replica) else { throw UnknownReplica() }
        return Int64(index + 1)
    }

    public func replica(numbered number: Int64) throws -> ReplicaID {
        guard (1...4).contains(number) else { throw UnknownReplica() }
        return Self.replicas[Int(number - 1)]
    }

    public func reporter(numbered number: Int64) throws -> String? {
        guard (1...4).contains(number) else { throw UnknownReplica() }
        return Self.reporters[Int(number - 1)]
    }
}
