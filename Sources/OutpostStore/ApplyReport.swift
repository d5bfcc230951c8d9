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
    }
}
