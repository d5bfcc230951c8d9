import Crypto
import OutpostCore

// A store restored from an older copy (`trust.md`, "Restored stores"; `TRUST-PLAN.md`).
//
// Evidence that this store is an older copy of itself: a partner holds a change of its current
// replica beyond its counter (a summary, `rotateIfRestored(partner:)`, or a received change,
// `applyRemote`), or a validly signed own dot arrives with other bytes than the one held (a
// reused dot). The store then continues under a new replica (`rotateIdentity`).
//
// What happens to the old ID's changes on rotation: those the partner lacks are unique dots, so
// they are simply kept and synced as the old ID's changes (signed by the old key, which stays in
// the roster); nothing is copied. Only dots that collide — the same dot in two signed versions —
// are settled: every replica keeps the version whose canonical bytes have the lower SHA-256, and
// the author, once it holds both, re-issues the discarded version's writes under its current
// replica. So no dot ever has two versions anywhere, and every write still reaches everyone.

extension ReusedDot {
    /// Whether the version with canonical bytes `a` is kept over the one with `b`: the lower
    /// SHA-256, compared byte-wise.
    public static func precedes(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        Array(SHA256.hash(data: a)).lexicographicallyPrecedes(Array(SHA256.hash(data: b)))
    }
}

extension Store {
    /// Whether `partner` holds a change of this store's current replica beyond its counter: the
    /// sign that this store is an older copy of itself (false when the store cannot be read).
    public func restoreEvidence(in partner: SyncSummary) -> Bool {
        (try? read { Store.holdsBeyond(partner, replica: replica, counter: try metaInt("counter")) }) ?? false
    }

    /// Continues under a new replica when `partner` shows this store was restored (see
    /// `restoreEvidence(in:)`); returns the replica it wrote under until now, nil when nothing
    /// showed. Sync clients call it before they send their own changes, so a restored store never
    /// sends a second version of a dot its partner holds. The old ID's changes the partner lacks
    /// are kept and synced as the old ID's (they are unique dots).
    @discardableResult
    public func rotateIfRestored(partner: SyncSummary) throws(StoreError) -> ReplicaID? {
        try write {
            let old = replica
            guard Store.holdsBeyond(partner, replica: old, counter: try metaInt("counter")) else { return nil }
            try rotateAfterRestore()
            return old
        }
    }

    /// Whether `summary` holds a change of `replica` with a counter above `counter`.
    static func holdsBeyond(_ summary: SyncSummary, replica: ReplicaID, counter: Int64) -> Bool {
        guard let entry = summary.entries[replica] else { return false }
        let own = UInt64(max(0, counter))
        return entry.contiguous > own || entry.extra.contains { $0 > own }
    }

    /// Rotates to a new replica after finding this store restored (inside a write transaction):
    /// the one `replicaAfterRestore` names, else the new key's.
    func rotateAfterRestore() throws {
        _ = try rotateIdentityInTransaction(to: replicaAfterRestore?())
    }

    /// The `meta` key prefix of a discarded version kept as evidence (the rest is the SHA-256 of
    /// its canonical bytes in hex; the value is its body).
    static let discardedVersionMeta = "discarded_version:"

    /// Both versions of every dot this store met in two signed versions: the one it keeps, then
    /// the one it discarded. Sync roads send them beside the changes a partner lacks (a summary
    /// cannot tell two versions of one dot apart), so a partner holding the discarded version
    /// settles the dot as this store did, and the author, though it never met the other version
    /// itself, re-issues it.
    public func reusedDotEvidence() throws(StoreError) -> [Change] {
        try read {
            var out: [Change] = []
            for discarded in try discardedVersions() {
                if let kept = try heldChange(at: discarded.dot) { out.append(kept) }
                out.append(discarded)
            }
            return out
        }
    }

    /// The discarded versions this store keeps as evidence (inside a transaction).
    private func discardedVersions() throws -> [Change] {
        var out: [Change] = []
        try db.cached("SELECT value FROM meta WHERE key >= ? AND key < ? ORDER BY key").bind(
            .text(Store.discardedVersionMeta), .text(Store.discardedVersionMeta + "~")
        ).forEach { row in
            if let change = try? row.withBytes(0, { try Change(storedJSONBytes: $0) }) { out.append(change) }
        }
        return out
    }

    /// The change the log holds under `dot`, if any.
    private func heldChange(at dot: Dot) throws -> Change? {
        guard let idx = replicaIndex[dot.replica] else { return nil }
        return try db.cached("SELECT body FROM changes WHERE replica = ? AND counter = ?").bind(
            .integer(idx), .integer(Int64(clamping: dot.counter))
        ).first { row in try row.withBytes(0) { try Change(storedJSONBytes: $0) } }
    }

    /// Settles the reused dots an applier met, after its `finish()` (inside the same write
    /// transaction): a stored version that lost is replaced by the received winner (its record
    /// rebuilt without it) and every discarded version is kept as evidence. When this store is
    /// the dot's author — its current replica or one it wrote under before — it rotates if it
    /// has not yet (a second version of its own dot is restore evidence) and re-issues each
    /// discarded version's writes under its current replica; its own changes stranded by a
    /// discarded version are re-issued too (`reissueStranded`). `restoredFrom` is set when it
    /// rotates here. Dots newly settled are added to `report.reusedDots`.
    func settleReusedDots(
        of applier: ChangeApplier, batchReplica: ReplicaID, restoredFrom: inout ReplicaID?, heldBackLimits: HeldBackLimits,
        deliveredBy: Int64?, into report: inout ApplyReport
    ) throws {
        var settled = applier.reusedDots
        let anyKept =
            try db.cached("SELECT 1 FROM meta WHERE key >= ? AND key < ? LIMIT 1").bind(
                .text(Store.discardedVersionMeta), .text(Store.discardedVersionMeta + "~")
            ).first { _ in true } ?? false
        guard !settled.isEmpty || anyKept else { return }
        if restoredFrom == nil && settled.contains(where: { $0.dot.replica == batchReplica }) {
            restoredFrom = batchReplica
            try rotateAfterRestore()
        }
        if !applier.replacements.isEmpty {
            try dropChanges(applier.replacements.values.map(\.storedSeq).sorted())
            let winners = try ChangeApplier(store: self, receivedMs: systemClock(), heldBackLimits: heldBackLimits)
            winners.deliveredBy = deliveredBy
            let ordered = applier.replacements.values.map(\.winner).sorted {
                ($0.dot.replica, $0.dot.counter) < ($1.dot.replica, $1.dot.counter)
            }
            try winners.preload(recordsOf: ordered)
            for change in ordered { try winners.apply(change) }
            try winners.finish()
            report.add(winners.report)
        }
        let authored = Set(try previousReplicaIDs() + [replica])
        var reissues: [Change] = []
        var news: [ReusedDot] = []
        for var reused in settled {
            let isNew = try keepDiscarded(reused.discarded)
            if authored.contains(reused.dot.replica) {
                if let earlier = try reissue(of: reused.discarded, by: authored) {
                    reused.reissuedAs = earlier
                } else if let pending = reissues.first(where: {
                    $0.record == reused.discarded.record && $0.tag == reused.discarded.tag && $0.writes == reused.discarded.writes
                }) {
                    reused.reissuedAs = pending.dot
                } else {
                    let change = try makeReissue(of: reused.discarded, deps: reused.discarded.deps)
                    reissues.append(change)
                    reused.reissuedAs = change.dot
                    news.append(reused)
                    continue
                }
            }
            if isNew { news.append(reused) }
        }
        settled = news
        // Our own changes: held back, if at all, without counting against any bound.
        let local = try ChangeApplier(store: self, receivedMs: systemClock(), heldBackLimits: .unlimited)
        for change in reissues { try local.apply(change) }
        try reissueStranded(authored: authored, applier: local)
        try local.finish()
        report.reusedDots += settled
    }

    /// Keeps a discarded version as evidence; whether it was not kept yet.
    private func keepDiscarded(_ change: Change) throws -> Bool {
        let hash = SHA256.hash(data: change.canonicalBytes()).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
        var body: [UInt8] = []
        change.write(to: &body)
        try db.cached("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)").bind(
            .text(Store.discardedVersionMeta + hash), .blob(body)
        ).run()
        return db.changes > 0
    }

    /// The replica IDs this store wrote under before its current one (inside a transaction).
    private func previousReplicaIDs() throws -> [ReplicaID] {
        (try metaText(Store.previousReplicasMeta) ?? "").split(separator: " ").compactMap { ReplicaID(hex: String($0)) }
    }

    /// The re-issue of `discarded` the log holds, if any: a change by one of `authors` (nil: by
    /// anyone), under another dot, on the same record with the same tag and writes (so a
    /// discarded version that arrives again, from a partner that still holds it, is re-issued once).
    private func reissue(of discarded: Change, by authors: Set<ReplicaID>?) throws -> Dot? {
        var found: Dot?
        try db.cached("SELECT replica, counter, body FROM changes WHERE collection = ? AND record = ? AND ms = ?").bind(
            .text(discarded.record.collection), .text(discarded.record.id), .integer(discarded.tag.ms)
        ).scan { row in
            let author = try replicaID(forIndex: row.int(0))
            let dot = Dot(replica: author, counter: UInt64(row.int(1)))
            guard authors?.contains(author) ?? true, dot != discarded.dot,
                let change = try? row.withBytes(2, { try Change(storedJSONBytes: $0) }),
                change.tag == discarded.tag, change.writes == discarded.writes
            else { return true }
            found = dot
            return false
        }
        return found
    }

    /// Re-issues this store's own held-back changes (under any of its replicas) that a discarded
    /// version stranded: one made on a record over a version that lost to a version for another
    /// record waits for that dot on its record forever. Such a change is re-issued under the
    /// current replica with the same record, writes and tag; its deps no longer name the dot
    /// (lowered to what the record holds of that author) and name instead the re-issue of the
    /// discarded version it had seen, so it still orders after that. A change still waiting for
    /// something that can arrive (its author's counter not yet contiguous there, a held change
    /// on its record, a re-issue not yet held) is left to wait.
    private func reissueStranded(authored: Set<ReplicaID>, applier: ChangeApplier) throws {
        let owners = authored.compactMap { replicaIndex[$0] }
        guard !owners.isEmpty else { return }
        var held: [Change] = []
        try db.cached(
            "SELECT body FROM changes WHERE applied = 0 AND replica IN (\(owners.map(String.init).joined(separator: ","))) ORDER BY seq"
        ).forEach { row in
            if let change = try? row.withBytes(0, { try Change(storedJSONBytes: $0) }) { held.append(change) }
        }
        guard !held.isEmpty else { return }
        let discarded = Dictionary(grouping: try discardedVersions(), by: \.record)
        held.sort { ($0.dot.replica, $0.dot.counter) < ($1.dot.replica, $1.dot.counter) }
        for change in held where try reissue(of: change, by: authored) == nil {
            let state = try applier.state(of: change.record)
            var deps = change.deps
            var stranded = true
            for (author, counter) in change.deps.entries where state.version[author] < counter {
                let applied = state.version[author]
                guard let idx = replicaIndex[author],
                    try contiguous(idx) >= counter,
                    try heldCount(of: idx, on: change.record, above: applied, upTo: counter) == 0
                else {
                    stranded = false
                    break
                }
                deps[author] = applied
                for version in discarded[change.record] ?? []
                where version.dot.replica == author && version.dot.counter > applied && version.dot.counter <= counter {
                    guard let again = try reissue(of: version, by: nil) else {
                        stranded = false
                        break
                    }
                    deps[again.replica] = max(deps[again.replica], again.counter)
                }
                if !stranded { break }
            }
            guard stranded, deps != change.deps else { continue }
            try applier.apply(try makeReissue(of: change, deps: deps))
        }
    }

    /// The contiguous counter the store holds of a replica (by local index).
    private func contiguous(_ idx: Int64) throws -> UInt64 {
        UInt64(
            max(0, try db.cached("SELECT contiguous FROM replicas WHERE idx = ?").bind(.integer(idx)).first { $0.int(0) } ?? 0))
    }

    /// How many changes of a replica (by local index) with counters in (`above`, `upTo`] the log
    /// holds for `record`.
    private func heldCount(of idx: Int64, on record: RecordKey, above: UInt64, upTo: UInt64) throws -> Int64 {
        try db.cached(
            "SELECT count(*) FROM changes WHERE replica = ? AND counter > ? AND counter <= ? AND collection = ? AND record = ?"
        ).bind(
            .integer(idx), .integer(Int64(clamping: above)), .integer(Int64(clamping: upTo)), .text(record.collection),
            .text(record.id)
        ).first { $0.int(0) } ?? 0
    }

    /// A new local change carrying the writes of `original` (a discarded version, or an own
    /// change it stranded): under the current replica at its next counter, on the same record,
    /// with the same writes and tag (ms, seq), and `deps`.
    ///
    /// A discarded version is re-issued with its own deps, not the record's current vector. The
    /// discarded version and the kept one are concurrent (neither author saw the other), and so
    /// is the re-issue: a field both wrote keeps both values as a conflict, and whatever the
    /// discarded version's author had seen stays superseded as it was. Deps of the record's
    /// current vector would instead cover the kept version and every concurrent edit held here,
    /// and the re-issue would silently replace their values: the write the rule set out to save
    /// would cost others. (An edit applied over the discarded version under the reused dot now
    /// covers the kept one instead, and supersedes its values of the fields it writes: a dot
    /// reused by a restore cannot tell which of its versions a later edit saw.)
    private func makeReissue(of original: Change, deps: VersionVector) throws -> Change {
        let counter = try metaInt("counter") + 1
        try setMeta("counter", .integer(counter))
        // The clock never runs behind a tag this replica has signed.
        let last = HLCTag(ms: try metaInt("clock_ms"), seq: UInt32(truncatingIfNeeded: try metaInt("clock_seq")))
        if last < original.tag {
            try setMeta("clock_ms", .integer(original.tag.ms))
            try setMeta("clock_seq", .integer(Int64(original.tag.seq)))
        }
        let change = Change(
            dot: Dot(replica: replica, counter: UInt64(counter)), record: original.record, deps: deps, tag: original.tag,
            writes: original.writes, reporter: try metaText("reporter"))
        return key.signed(change)
    }
}

extension String {
    /// The string with leading zeros up to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
