/// A hybrid-clock tag: wall milliseconds and a sequence number for ties.
public struct HLCTag: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Milliseconds since the Unix epoch (corrected wall clock).
    public var ms: Int64
    /// Sequence within the same millisecond.
    public var seq: UInt32

    /// Makes a tag.
    public init(ms: Int64, seq: UInt32) {
        self.ms = ms
        self.seq = seq
    }

    /// The tag before any write.
    public static let zero = HLCTag(ms: 0, seq: 0)

    public static func < (lhs: HLCTag, rhs: HLCTag) -> Bool {
        (lhs.ms, lhs.seq) < (rhs.ms, rhs.seq)
    }

    public var description: String { "\(ms).\(seq)" }
}

/// The hybrid clock of the spec: never runs backwards, never moved by remote tags.
public struct HybridClock: Hashable, Sendable {
    /// The last tag handed out (persisted by the store).
    public private(set) var last: HLCTag

    /// A clock that continues after `last`.
    public init(last: HLCTag = .zero) { self.last = last }

    /// The next tag: `ms = max(wall, last.ms)`, `seq = last.seq + 1` when ms did not move, else 0.
    public mutating func next(wallMs: Int64) -> HLCTag {
        let ms = max(wallMs, last.ms)
        let seq: UInt32 = ms == last.ms ? last.seq + 1 : 0
        last = HLCTag(ms: ms, seq: seq)
        return last
    }
}

/// The total order of writes: `(tag.ms, tag.seq, author replica id)`; the greatest is the last writer.
public struct WriteOrder: Hashable, Comparable, Sendable {
    /// The write's tag.
    public var tag: HLCTag
    /// The write's author.
    public var author: ReplicaID

    /// Makes an order key.
    public init(tag: HLCTag, author: ReplicaID) {
        self.tag = tag
        self.author = author
    }

    public static func < (lhs: WriteOrder, rhs: WriteOrder) -> Bool {
        if lhs.tag != rhs.tag { return lhs.tag < rhs.tag }
        return lhs.author < rhs.author
    }
}
