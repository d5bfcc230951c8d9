import OutpostCore

/// A change as stored: its log position and wire-format JSON bytes.
public struct StoredChange: Hashable, Sendable {
    /// Position in this store's log.
    public var seq: Int64
    /// The author.
    public var replica: ReplicaID
    /// The author's counter.
    public var counter: UInt64
    /// The change's wire-format JSON.
    public var body: [UInt8]

    /// Makes a stored change (a bundle's line, say) from its parts.
    public init(seq: Int64, replica: ReplicaID, counter: UInt64, body: [UInt8]) {
        self.seq = seq
        self.replica = replica
        self.counter = counter
        self.body = body
    }

    /// Parses the body.
    public func change() throws(StoreError) -> Change {
        do { return try body.withUnsafeBufferPointer { try Change(storedJSONBytes: $0) } } catch { throw StoreError.wrap(error) }
    }
}

extension Store {
    /// What this store holds, for a peer to send what is missing.
    public func summary() throws(StoreError) -> SyncSummary {
        try read {
            var entries: [ReplicaID: SyncSummary.Entry] = [:]
            try db.cached("SELECT idx, id, contiguous FROM replicas").forEach { row in
                entries[ReplicaID(bytes: row.bytes(1))] = SyncSummary.Entry(contiguous: UInt64(row.int(2)))
            }
            try db.cached(
                "SELECT r.id, c.counter FROM changes c JOIN replicas r ON r.idx = c.replica WHERE c.counter > r.contiguous"
            ).forEach { row in
                entries[ReplicaID(bytes: row.bytes(0))]?.extra.insert(UInt64(row.int(1)))
            }
            return SyncSummary(entries: entries.filter { $0.value.contiguous > 0 || !$0.value.extra.isEmpty })
        }
    }

    /// Changes the summary lacks, in log (causal) order after `afterSeq`, at most `limit` and about `maxBytes`.
    ///
    /// Returns the changes and the log position to continue from.
    public func changes(
        missingFrom summary: SyncSummary, afterSeq: Int64 = 0, limit: Int = 1000, maxBytes: Int = 1 << 20
    ) throws(StoreError) -> (changes: [StoredChange], nextSeq: Int64) {
        try read {
            let statement = try db.cached(
                "SELECT seq, collection, record, replica, counter, body FROM changes WHERE seq > ? ORDER BY seq")
            try statement.bind(.integer(afterSeq))
            return try collect(statement, missingFrom: summary, afterSeq: afterSeq, limit: limit, maxBytes: maxBytes)
        }
    }

    /// Reads the rows of `statement` (seq, then `changeColumns`, in log order) that
    /// `summary` lacks, at most `limit` and about `maxBytes` (inside a read); the changes and the
    /// position to continue from.
    func collect(
        _ statement: Statement, missingFrom summary: SyncSummary, afterSeq: Int64, limit: Int, maxBytes: Int
    ) throws -> (changes: [StoredChange], nextSeq: Int64) {
        var out: [StoredChange] = []
        var bytes = 0
        var last = afterSeq
        // Per author, the peer already has 1…contiguous: skip those with the index.
        let floor: [Int64: Int64] = Dictionary(
            uniqueKeysWithValues: replicaIndex.compactMap { id, idx in
                summary.entries[id].map { (idx, Int64(clamping: $0.contiguous)) }
            })
        try statement.scan { row in
            let seq = row.int(0)
            let idx = row.int(3)
            let counter = row.int(4)
            last = seq
            if counter <= floor[idx] ?? 0 { return true }
            let replica = try replicaID(forIndex: idx)
            if summary.contains(Dot(replica: replica, counter: UInt64(counter))) { return true }
            let body = try changeBody(fromRow: row, at: 1)
            out.append(StoredChange(seq: seq, replica: replica, counter: UInt64(counter), body: body))
            bytes += body.count
            return out.count < limit && bytes < maxBytes
        }
        return (out, last)
    }

    /// Changes in log order after `afterSeq` (a server's pull cursor), skipping those authored by
    /// `excluding` and those held back: a held change is relayed once it is applied (it then
    /// moves to the end of the log), so junk that waits forever is never passed on to every
    /// device; nor are out-of-range changes an older version stored. The position returned goes
    /// past the skipped ones.
    public func changes(
        afterSeq: Int64, excluding: ReplicaID? = nil, limit: Int = 1000, maxBytes: Int = 1 << 20
    ) throws(StoreError) -> (changes: [StoredChange], nextSeq: Int64) {
        // The server's filtered pull with every record readable and no more rows looked at than asked for.
        try readableChanges(
            afterSeq: afterSeq, excluding: excluding, limit: limit, maxBytes: maxBytes, scanLimit: limit, readable: { _ in true })
    }

    /// This store's own changes with counter above `afterCounter`, in counter order.
    public func ownChanges(afterCounter: UInt64, limit: Int = 1000, maxBytes: Int = 1 << 20) throws(StoreError) -> [StoredChange]
    {
        try read {
            var out: [StoredChange] = []
            var bytes = 0
            guard let idx = replicaIndex[replica] else { return [] }
            let statement = try db.cached(
                "SELECT seq, \(Store.changeColumns) FROM changes WHERE replica = ? AND counter > ? ORDER BY counter LIMIT ?")
            try statement.bind(.integer(idx), .integer(Int64(afterCounter)), .integer(Int64(limit)))
            try statement.scan { row in
                let body = try changeBody(fromRow: row, at: 1)
                out.append(StoredChange(seq: row.int(0), replica: replica, counter: UInt64(row.int(4)), body: body))
                bytes += body.count
                return bytes < maxBytes
            }
            return out
        }
    }

    /// The highest n such that this store holds changes 1…n of `replica`.
    public func contiguousCounter(of replica: ReplicaID) throws(StoreError) -> UInt64 {
        try read {
            guard let idx = replicaIndex[replica] else { return 0 }
            return UInt64(
                try db.cached("SELECT contiguous FROM replicas WHERE idx = ?").bind(.integer(idx)).first { $0.int(0) } ?? 0)
        }
    }

    /// The last position in this store's change log.
    public func lastSeq() throws(StoreError) -> Int64 {
        try read { try db.cached("SELECT coalesce(max(seq), 0) FROM changes").first { $0.int(0) } ?? 0 }
    }

    /// Reporter names known for each replica.
    public func reporterNames() throws(StoreError) -> [ReplicaID: String] {
        try read {
            var out: [ReplicaID: String] = [:]
            try db.cached("SELECT id, reporter FROM replicas WHERE reporter IS NOT NULL").forEach { row in
                let replica = ReplicaID(bytes: row.bytes(0))
                out[replica] = try Store.openedText(row, 1, for: .replicaReporter(replica), cipher: cipher)
            }
            return out
        }
    }
}
