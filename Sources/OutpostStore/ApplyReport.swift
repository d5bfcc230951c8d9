import OutpostCore

/// What applying a batch of changes did.
public struct ApplyReport: Hashable, Sendable {
    /// Changes applied to record state (including held-back ones released by this batch).
    public var applied = 0
    /// Changes already known (ignored).
    public var duplicates = 0
    /// Changes kept back because their deps are not yet met.
    public var heldBack = 0
    /// Held-back changes (from this or earlier batches) applied once their deps arrived.
    public var released = 0
    /// Records that gained or kept a conflict through this batch.
    public var conflictedRecords = 0
    /// Received changes left out because they failed verification (never stored).
    public var refused: [RefusedChange] = []
    /// Received changes kept as unverified: their author is not in the roster yet.
    public var unverified = 0
    /// The replica ID this store wrote under until this batch showed it was restored from an
    /// older copy (a validly signed change of its own from beyond its counter); it now writes
    /// under a new one.
    public var restoredFrom: ReplicaID?
    /// Dots that arrived in a second, validly signed version (`trust.md`, "Restored stores"):
    /// which version was kept, and the author's re-issue of the other when this store is its author.
    public var reusedDots: [ReusedDot] = []
    /// Received changes not applied because this device may not read their records (another
    /// team's, or another reporter's restricted record; issue 14).
    public var withheld = 0
    /// Of those, the changes sealed into parcels held for the server (the rest were left out).
    public var sealedForServer = 0
    /// Sealed parcels a bundle brought that this device now holds for the server.
    public var parcels = 0

    /// An empty report.
    public init() {}

    /// Adds another report's counts to this one.
    public mutating func add(_ other: ApplyReport) {
        applied += other.applied
        duplicates += other.duplicates
        heldBack += other.heldBack
        released += other.released
        conflictedRecords += other.conflictedRecords
        refused += other.refused
        unverified += other.unverified
        restoredFrom = restoredFrom ?? other.restoredFrom
        reusedDots += other.reusedDots
        withheld += other.withheld
        sealedForServer += other.sealedForServer
        parcels += other.parcels
    }
}

/// A dot met in two validly signed versions: the one whose canonical bytes have the lower
/// SHA-256 is kept everywhere, the other is discarded (never applied beside it).
public struct ReusedDot: Hashable, Sendable, CustomStringConvertible {
    /// The dot.
    public var dot: Dot
    /// The version kept.
    public var kept: Change
    /// The version discarded.
    public var discarded: Change
    /// The dot under which this store, the author, re-issued the discarded version's writes (nil
    /// when this store is not the author).
    public var reissuedAs: Dot?

    /// Makes a report.
    public init(dot: Dot, kept: Change, discarded: Change, reissuedAs: Dot? = nil) {
        self.dot = dot
        self.kept = kept
        self.discarded = discarded
        self.reissuedAs = reissuedAs
    }

    public var description: String {
        var text =
            "change \(dot) came in two signed versions (its author reused the dot after a restore): the one for incident \(kept.record.id) was kept, the one for incident \(discarded.record.id) was discarded"
        if let reissuedAs { text += " and its writes re-issued as \(reissuedAs)" }
        return text
    }
}
