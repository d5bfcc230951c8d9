import OutpostCore
import OutpostStore

/// A batch of changes one replica sends another, with the position to continue from.
public struct ChangeBatch: Hashable, Sendable {
    /// The changes, in the sender's log (causal) order.
    public var changes: [Change]
    /// The sender's log position after this batch; pass it back to continue.
    public var nextSeq: Int64

    /// Makes a batch.
    public init(changes: [Change], nextSeq: Int64) {
        self.changes = changes
        self.nextSeq = nextSeq
    }
}

/// The far side of a peer-to-peer sync session: another replica reached in-process, over a link or through a file.
public protocol SyncTransport: Sendable {
    /// What the far replica holds (size grows with authors, not with changes).
    func summary() async throws -> SyncSummary
    /// The far replica's changes that `summary` lacks, after `afterSeq`, at most `limit` and about `maxBytes`.
    func changes(missingFrom summary: SyncSummary, afterSeq: Int64, limit: Int, maxBytes: Int) async throws -> ChangeBatch
    /// Applies a batch at the far replica atomically; returning is its acknowledgement.
    func receive(_ changes: [Change]) async throws -> ApplyReport
    /// The far replica's roster entries signed by the server, to pass on (`trust.md`).
    func roster() async throws -> [RosterEntry]
    /// Takes roster entries at the far replica: each counts only with a valid signature of the
    /// server key it pinned (a peer never chooses that key).
    func receiveRoster(_ entries: [RosterEntry]) async throws -> RosterUpdate
    /// Before sending: when `partner` (the other side's summary) holds changes of the far
    /// replica that it never sent (it was restored from an older copy of itself), it continues
    /// under a new replica and re-issues its unsent work there (`trust.md`, "Restored stores");
    /// returns the replica it left, nil when it was not restored.
    func continueIfRestored(partner: SyncSummary) async throws -> ReplicaID?
    /// The far replica as a reader (its own roster entry; issue 14): what it may be given in the
    /// clear. nil: unknown, so it is given nothing it could read, only parcels.
    func reader() async throws -> PeerReader?
    /// Holds sealed parcels at the far replica, to carry to the server; how many were new.
    func receiveParcels(_ parcels: [[UInt8]]) async throws -> Int
    /// Of the far replica's `changes` (a batch it gave), what `reader` may be given in the
    /// clear, the rest sealed into parcels to the server's parcel key, and how many were left
    /// out (no parcel key pinned there yet). The far replica judges from its own roster.
    func outgoing(_ changes: [Change], for reader: PeerReader?) async throws -> OutgoingChanges
}

/// A batch split for a reader (`SyncTransport.outgoing`): what goes in the clear, what sealed.
public struct OutgoingChanges: Sendable {
    /// Changes the reader may read, in the sender's order.
    public var clear: [Change]
    /// Sealed parcels holding the changes it may not read.
    public var parcels: [[UInt8]]
    /// How many changes the parcels hold.
    public var sealed: Int
    /// Changes it may not read that could not be sealed (the sender has no parcel key yet).
    public var leftOut: Int

    /// Makes one.
    public init(clear: [Change], parcels: [[UInt8]] = [], sealed: Int = 0, leftOut: Int = 0) {
        self.clear = clear
        self.parcels = parcels
        self.sealed = sealed
        self.leftOut = leftOut
    }
}

/// A far side that cannot hold parcels was given some.
public struct CannotCarryParcels: Error, Hashable, Sendable, CustomStringConvertible {
    public var description: String { "this peer cannot carry sealed parcels" }
}

extension SyncTransport {
    /// A far side that cannot be restored (a file, a link that checks itself).
    public func continueIfRestored(partner: SyncSummary) async throws -> ReplicaID? { nil }

    /// A far side that does not say who it is: given only what no team restricts (nothing,
    /// where teams are in force).
    public func reader() async throws -> PeerReader? { nil }

    /// A far side that cannot carry parcels.
    public func receiveParcels(_ parcels: [[UInt8]]) async throws -> Int { throw CannotCarryParcels() }

    /// A far side that is not a store with teams in force (no roster key): everything in the
    /// clear, as before teams.
    public func outgoing(_ changes: [Change], for reader: PeerReader?) async throws -> OutgoingChanges {
        OutgoingChanges(clear: changes)
    }
}

/// A replica in this process, reached directly through its store (tests, replays, local peers).
public struct StoreTransport: SyncTransport {
    /// The store served.
    public let store: Store

    /// Serves a store.
    public init(store: Store) { self.store = store }

    public func summary() async throws -> SyncSummary { try store.summary() }

    public func changes(missingFrom summary: SyncSummary, afterSeq: Int64, limit: Int, maxBytes: Int) async throws -> ChangeBatch
    {
        let (stored, next) = try store.changes(missingFrom: summary, afterSeq: afterSeq, limit: limit, maxBytes: maxBytes)
        let own = store.replica
        try store.recordOwnSent(through: stored.filter { $0.replica == own }.map(\.counter).max() ?? 0)
        return ChangeBatch(changes: try stored.map { try $0.change() }, nextSeq: next)
    }

    public func receive(_ changes: [Change]) async throws -> ApplyReport {
        try store.applyRemote(changes, sealer: Store.parcelSealer)
    }

    public func roster() async throws -> [RosterEntry] { try store.roster().filter { $0.sig != nil } }

    public func receiveRoster(_ entries: [RosterEntry]) async throws -> RosterUpdate {
        try store.acceptRoster(entries, rosterKey: nil)
    }

    public func continueIfRestored(partner: SyncSummary) async throws -> ReplicaID? {
        try store.continueIfPartnerHoldsUnsent(partner)
    }

    public func reader() async throws -> PeerReader? { try store.ownReader() }

    public func receiveParcels(_ parcels: [[UInt8]]) async throws -> Int {
        var new = 0
        for parcel in parcels where try store.holdParcel(parcel) { new += 1 }
        return new
    }

    public func outgoing(_ changes: [Change], for reader: PeerReader?) async throws -> OutgoingChanges {
        try store.outgoing(changes, for: reader)
    }
}
