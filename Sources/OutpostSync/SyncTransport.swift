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
}

extension SyncTransport {
    /// A far side that cannot be restored (a file, a link that checks itself).
    public func continueIfRestored(partner: SyncSummary) async throws -> ReplicaID? { nil }
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

    public func receive(_ changes: [Change]) async throws -> ApplyReport { try store.applyRemote(changes) }

    public func roster() async throws -> [RosterEntry] { try store.roster().filter { $0.sig != nil } }

    public func receiveRoster(_ entries: [RosterEntry]) async throws -> RosterUpdate {
        try store.acceptRoster(entries, rosterKey: nil)
    }

    public func continueIfRestored(partner: SyncSummary) async throws -> ReplicaID? {
        try store.continueIfPartnerHoldsUnsent(partner)
    }
}
