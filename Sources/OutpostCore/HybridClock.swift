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

    /// The wall clock corrected by an offset learned from a server, saturating instead of
    /// overflowing (an offset comes from outside bytes: a server's `server_time_ms`).
    public static func correctedWall(systemMs: Int64, offsetMs: Int64) -> Int64 {
        let (sum, overflow) = systemMs.addingReportingOverflow(offsetMs)
        if overflow { return offsetMs > 0 ? Int64.max : Int64.min }
        return sum
    }

    /// The next tag: `ms = max(wall, last.ms)`, `seq = last.seq + 1` when ms did not move, else 0.
    ///
    /// Tags stay within `Change.msRange` (a wall clock outside it is taken as its nearest end),
    /// and nothing overflows: past `seq` 2^32 − 1 the clock moves on one millisecond; at the last
    /// millisecond of 9999 the last tag repeats (the counter still orders the writes).
    public mutating func next(wallMs: Int64) -> HLCTag {
        let range = Change.msRange
        let wall = min(max(wallMs, range.lowerBound), range.upperBound)
        var ms = min(max(wall, last.ms), range.upperBound)
        var seq: UInt32 = 0
        if ms == last.ms {
            if last.seq < UInt32.max {
                seq = last.seq + 1
            } else if ms < range.upperBound {
                ms += 1
            } else {
                seq = last.seq
            }
        }
        last = HLCTag(ms: ms, seq: seq)
        return last
    }
}

/// The total order of writes: `(tag.ms, tag.seq, author replica id, counter)`; the greatest is
/// the last writer. (A correct replica never gives two changes one tag; the counter makes the
/// order total when a faulty one does.)
public struct WriteOrder: Hashable, Comparable, Sendable {
    /// The write's tag.
    public var tag: HLCTag
    /// The write's author.
    public var author: ReplicaID
    /// The author's counter of the writing change.
    public var counter: UInt64

    /// Makes an order key.
    public init(tag: HLCTag, author: ReplicaID, counter: UInt64) {
        self.tag = tag
        self.author = author
        self.counter = counter
    }

    public static func < (lhs: WriteOrder, rhs: WriteOrder) -> Bool {
        if lhs.tag != rhs.tag { return lhs.tag < rhs.tag }
        if lhs.author != rhs.author { return lhs.author < rhs.author }
        return lhs.counter < rhs.counter
    }
}
