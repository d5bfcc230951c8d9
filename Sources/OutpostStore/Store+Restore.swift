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
//
// What sync roads must do for that (a summary cannot tell two versions of one dot apart):
// - send `reusedDotEvidence()` with what a partner lacks, and apply what a partner sends;
// - after `rotateIfRestored(partner:)` returns an old ID, send the partner every change of that
//   ID and ask it for the same (the summaries' entries for it left out);
// - a road that resends a device's own changes after an acknowledged counter (the server push)
//   meets the versions by itself; when both copies hold the same counter nothing else shows it.

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
    /// are kept and synced as the old ID's (they are unique dots); when it returns an old ID, the
    /// caller sends the partner every change of that ID and asks it for the same, so versions
    /// of a dot both hold meet and are settled (`reusedDotEvidence()`).
    @discardableResult
    public func rotateIfRestored(partner: SyncSummary) throws(StoreError) -> ReplicaID? {
        try write {
            let old = replica
            guard Store.holdsBeyond(partner, replica: old, counter: try metaInt("counter")) else { return nil }
            // The old ID's changes stay: the caller exchanges them whole, and each reused dot is
            // settled by the lower hash, the discarded version re-issued.
            try rotateAfterRestore(reissuingUnsent: false)
            return old
        }
    }

    /// When `partner` holds a change of this store's replica above the highest own counter that
    /// ever left this store (by any road) or the server acknowledged, it got it from another copy
    /// of this store: this one was restored. It then continues under a new replica, re-issuing
    /// there the changes that never left it (their dots are the partner's other changes), and
    /// returns the replica it left; nil otherwise.
    @discardableResult
    public func continueIfPartnerHoldsUnsent(_ partner: SyncSummary) throws(StoreError) -> ReplicaID? {
        try write {
            let old = replica
            guard Store.holdsBeyond(partner, replica: old, counter: try ownSentFloorInTransaction()) else { return nil }
            try rotateAfterRestore(reissuingUnsent: true)
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
    /// the one `restoredReplicaNaming` names, else the new key's.
    func rotateAfterRestore(reissuingUnsent: Bool = true) throws {
        _ = try rotateIdentityInTransaction(reissuingUnsent: reissuingUnsent)
    }

    /// Re-issues under the current replica the changes this store made under `old` above
    /// `sent` — the highest of them that ever left it — which nobody else holds (`trust.md`,
    /// "Restored stores"): same record, writes and tag; deps on re-issued ones name their
    /// re-issues. The originals leave the log first (their records are rebuilt without them), so
    /// a partner's other change under one of those dots applies here as the only one.
    func reissueUnsent(of old: ReplicaID, above sent: UInt64) throws {
        guard let idx = replicaIndex[old] else { return }
        var rows: [(seq: Int64, change: Change)] = []
        try db.cached("SELECT seq, \(Store.changeColumns) FROM changes WHERE replica = ? AND counter > ? ORDER BY counter").bind(
            .integer(idx), .integer(Int64(clamping: sent))
        ).forEach { row in
            rows.append((row.int(0), try change(fromRow: row, at: 1)))
        }
        guard !rows.isEmpty else { return }
        try dropChanges(rows.map(\.seq))
        let applier = try ChangeApplier(store: self, receivedMs: systemClock(), heldBackLimits: .unlimited)
        var reissued: [UInt64: UInt64] = [:]
        for (_, original) in rows {
            var deps = original.deps
            let seen = deps[old]
            if seen > sent {
                // What the record still holds of the old replica, and the re-issue of the one it saw.
                deps[old] = try applier.state(of: original.record).version[old]
                if let counter = reissued[seen] { deps[replica] = max(deps[replica], counter) }
            }
            let change = try makeReissue(of: original, deps: deps, applier: applier)
            try applier.apply(change)
            reissued[original.dot.counter] = change.dot.counter
        }
        try applier.finish()
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
        try db.cached("SELECT key, value, typeof(value) FROM meta WHERE key >= ? AND key < ? ORDER BY key").bind(
            .text(Store.discardedVersionMeta), .text(Store.discardedVersionMeta + "~")
        ).forEach { row in
            let value = try Store.metaValue(row, column: 1, key: row.text(0) ?? "", cipher: cipher)
            guard case .blob(let body) = value else { return }
            if let change = try? body.withUnsafeBufferPointer({ try Change(storedJSONBytes: $0) }) { out.append(change) }
        }
        return out
    }

    /// The change the log holds under `dot`, if any.
    private func heldChange(at dot: Dot) throws -> Change? {
        guard let idx = replicaIndex[dot.replica] else { return nil }
        return try db.cached("SELECT \(Store.changeColumns) FROM changes WHERE replica = ? AND counter = ?").bind(
            .integer(idx), .integer(Int64(clamping: dot.counter))
        ).first { row in try change(fromRow: row, at: 0) }
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
        let settled = applier.reusedDots
        let anyKept =
            try db.cached("SELECT 1 FROM meta WHERE key >= ? AND key < ? LIMIT 1").bind(
                .text(Store.discardedVersionMeta), .text(Store.discardedVersionMeta + "~")
            ).first { _ in true } ?? false
        guard !settled.isEmpty || anyKept else { return }
        if restoredFrom == nil && settled.contains(where: { $0.dot.replica == batchReplica }) {
            restoredFrom = batchReplica
            // Its own versions here are being settled against the partner's: they stay.
            try rotateAfterRestore(reissuingUnsent: false)
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
        var news: [ReusedDot] = []
        var toReissue: [(index: Int, isNew: Bool)] = []
        for (i, reused) in settled.enumerated() {
            let isNew = try keepDiscarded(reused.discarded)
            if authored.contains(reused.dot.replica) {
                toReissue.append((i, isNew))
            } else if isNew {
                news.append(reused)
            }
        }
        // Our own changes: held back, if at all, without counting against any bound. In dot
        // order, so a discarded version's deps on an earlier one can name its re-issue.
        let local = try ChangeApplier(store: self, receivedMs: systemClock(), heldBackLimits: .unlimited)
        // Read only when something is re-issued (every batch of a store that kept evidence gets here).
        let discarded = toReissue.isEmpty ? [:] : Dictionary(grouping: try discardedVersions(), by: \.record)
        toReissue.sort { a, b in
            (settled[a.index].dot.replica, settled[a.index].dot.counter) < (
                settled[b.index].dot.replica, settled[b.index].dot.counter
            )
        }
        for (i, isNew) in toReissue {
            var reused = settled[i]
            if let earlier = try reissue(of: reused.discarded, by: authored) {
                reused.reissuedAs = earlier
                if isNew { news.append(reused) }
                continue
            }
            // Deps on a dot the record no longer holds (its version there was discarded) name
            // that version's re-issue instead; anything else keeps waiting as it would.
            let deps =
                try rewrittenDeps(of: reused.discarded, applier: local, reissued: [:], discarded: discarded)
                ?? reused.discarded.deps
            let change = try makeReissue(of: reused.discarded, deps: deps, applier: local)
            try local.apply(change)
            reused.reissuedAs = change.dot
            news.append(reused)
        }
        try reissueStranded(authored: authored, applier: local, discarded: toReissue.isEmpty ? nil : discarded)
        try local.finish()
        report.reusedDots += news
    }

    /// At most this many discarded versions of one dot are kept as evidence (a restore makes
    /// one; an author signing many versions of its own dots cannot fill every store).
    static let discardedVersionsPerDot = 4
    /// At most this many discarded versions in all.
    static let discardedVersionsInAll = 10_000

    /// Keeps a discarded version as evidence (its key: the dot, then the SHA-256 of its canonical
    /// bytes); whether it was not kept yet. Past the bounds it is settled but not kept.
    private func keepDiscarded(_ change: Change) throws -> Bool {
        let dotPrefix = Store.discardedVersionMeta + "\(change.dot.replica.hex):\(change.dot.counter):"
        let hash = SHA256.hash(data: change.canonicalBytes()).map { String($0, radix: 16).leftPadded(to: 2) }.joined()
        let count = { (prefix: String) throws -> Int64 in
            try self.db.cached("SELECT count(*) FROM meta WHERE key >= ? AND key < ?").bind(
                .text(prefix), .text(prefix + "~")
            ).first { $0.int(0) } ?? 0
        }
        if try metaValue(dotPrefix + hash) != nil { return false }
        guard try count(dotPrefix) < Store.discardedVersionsPerDot,
            try count(Store.discardedVersionMeta) < Store.discardedVersionsInAll
        else { return true }
        var body: [UInt8] = []
        change.write(to: &body)
        try db.cached("INSERT INTO meta (key, value) VALUES (?, ?)").bind(
            .text(dotPrefix + hash), try Store.storedMetaValue(.blob(body), key: dotPrefix + hash, cipher: cipher)
        ).run()
        return true
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
        try db.cached("SELECT \(Store.changeColumns) FROM changes WHERE collection = ? AND record = ? AND ms = ?").bind(
            .text(discarded.record.collection), .text(discarded.record.id), .integer(discarded.tag.ms)
        ).scan { row in
            let author = try replicaID(forIndex: row.int(2))
            let dot = Dot(replica: author, counter: UInt64(row.int(3)))
            guard authors?.contains(author) ?? true, dot != discarded.dot,
                let change = try? change(fromRow: row, at: 0),
                change.tag == discarded.tag, change.writes == discarded.writes
            else { return true }
            found = dot
            return false
        }
        return found
    }

    /// Re-issues this store's own held-back changes (under any of its replicas) that a discarded
    /// version stranded: one made on a record over a version that lost to a version for another
    /// record waits for that dot on its record forever, and so does any own change made over it.
    /// Such a change is re-issued under the current replica with the same record, writes and
    /// tag; its deps no longer name the dot (lowered to what the record holds of that author)
    /// and name instead the re-issues of what it had seen there (the discarded version, a
    /// stranded change before it), so it still orders after them. A change still waiting for
    /// something that can arrive (its author's counter not yet contiguous here, a held change on
    /// its record not re-issued, a re-issue not yet held) is left to wait. The stranded original
    /// stays in the log, held (it is another replica's signed change, already relayed).
    /// `discarded`: the kept discarded versions by record, nil when not read yet.
    private func reissueStranded(authored: Set<ReplicaID>, applier: ChangeApplier, discarded known: [RecordKey: [Change]]?)
        throws
    {
        let owners = authored.compactMap { replicaIndex[$0] }
        guard !owners.isEmpty else { return }
        var held: [Change] = []
        try db.cached(
            "SELECT \(Store.changeColumns) FROM changes WHERE applied = 0 AND replica IN (\(owners.map(String.init).joined(separator: ","))) ORDER BY seq"
        ).forEach { row in
            if let change = try? change(fromRow: row, at: 0) { held.append(change) }
        }
        guard !held.isEmpty else { return }
        let discarded = try known ?? Dictionary(grouping: try discardedVersions(), by: \.record)
        var reissued: [Dot: Dot] = [:]
        for change in held {
            if let earlier = try reissue(of: change, by: authored) { reissued[change.dot] = earlier }
        }
        // In rounds: a change made over a stranded one is stranded once that one is re-issued.
        var progress = true
        while progress {
            progress = false
            for change in held where reissued[change.dot] == nil {
                guard let deps = try rewrittenDeps(of: change, applier: applier, reissued: reissued, discarded: discarded),
                    deps != change.deps
                else { continue }
                let again = try makeReissue(of: change, deps: deps, applier: applier)
                try applier.apply(again)
                reissued[change.dot] = again.dot
                progress = true
            }
        }
    }

    /// The deps a re-issue of `change` takes on its record (see `reissueStranded`): each entry
    /// the record does not cover, whose dots there can no longer arrive, is lowered to what the
    /// record holds of that author, and the re-issues of what the change had seen there (held
    /// changes in `reissued`, discarded versions) are named instead. Nil when some entry still
    /// waits for something that can arrive.
    private func rewrittenDeps(
        of change: Change, applier: ChangeApplier, reissued: [Dot: Dot], discarded: [RecordKey: [Change]]
    ) throws -> VersionVector? {
        let state = try applier.state(of: change.record)
        var deps = change.deps
        for (author, counter) in change.deps.entries where state.version[author] < counter {
            let applied = state.version[author]
            guard let idx = replicaIndex[author], try contiguous(idx) >= counter else { return nil }
            // What the record holds of this author above what it applied: held changes, each
            // already re-issued.
            for dot in try heldDots(of: idx, author: author, on: change.record, above: applied, upTo: counter) {
                guard let again = reissued[dot] else { return nil }
                deps[again.replica] = max(deps[again.replica], again.counter)
            }
            deps[author] = applied
            for version in discarded[change.record] ?? []
            where version.dot.replica == author && version.dot.counter > applied && version.dot.counter <= counter {
                guard let again = try reissue(of: version, by: nil) else { return nil }
                deps[again.replica] = max(deps[again.replica], again.counter)
            }
        }
        return deps
    }

    /// The contiguous counter the store holds of a replica (by local index).
    private func contiguous(_ idx: Int64) throws -> UInt64 {
        UInt64(
            max(0, try db.cached("SELECT contiguous FROM replicas WHERE idx = ?").bind(.integer(idx)).first { $0.int(0) } ?? 0))
    }

    /// The dots of a replica's changes (`idx`, `author`) with counters in (`above`, `upTo`] that the
    /// log holds for `record`.
    private func heldDots(of idx: Int64, author: ReplicaID, on record: RecordKey, above: UInt64, upTo: UInt64) throws -> [Dot] {
        var out: [Dot] = []
        try db.cached(
            "SELECT counter FROM changes WHERE replica = ? AND counter > ? AND counter <= ? AND collection = ? AND record = ?"
        ).bind(
            .integer(idx), .integer(Int64(clamping: above)), .integer(Int64(clamping: upTo)), .text(record.collection),
            .text(record.id)
        ).forEach { out.append(Dot(replica: author, counter: UInt64($0.int(0)))) }
        return out
    }

    /// A new local change carrying the writes of `original` (a discarded version, or an own
    /// change it stranded): under the current replica at its next counter, on the same record,
    /// with the same writes and tag (ms, seq), and `deps` plus this replica's earlier changes on
    /// the record.
    ///
    /// Why the deps are the discarded version's own (rewritten only where they name a dot the
    /// record no longer holds), not the record's current vector: the discarded version and the
    /// kept one are concurrent (neither author saw the other), and so is the re-issue. A field
    /// both wrote keeps both values as a conflict, and whatever the discarded version's author had
    /// seen stays superseded as it was, so every write is kept. Deps of the record's current
    /// vector would cover the kept version and every concurrent edit held here, and the re-issue
    /// would silently replace their values: the write the rule set out to save would cost others
    /// theirs (`RestoredStoreTests` loses a title that way).
    ///
    /// Known limits, both inherent in a dot that names two changes: an edit applied over the
    /// discarded version under the reused dot now covers the kept one instead, and supersedes its
    /// values of the fields it writes; and a re-issue covers this replica's earlier changes on the
    /// record (below), so two re-issues on one record of versions from different phases that
    /// write the same field keep only the later one's value there.
    private func makeReissue(of original: Change, deps: VersionVector, applier: ChangeApplier) throws -> Change {
        let counter = try metaInt("counter") + 1
        try setMeta("counter", .integer(counter))
        // The clock never runs behind a tag this replica has signed.
        let last = HLCTag(ms: try metaInt("clock_ms"), seq: UInt32(truncatingIfNeeded: try metaInt("clock_seq")))
        if last < original.tag {
            try setMeta("clock_ms", .integer(original.tag.ms))
            try setMeta("clock_seq", .integer(Int64(original.tag.seq)))
        }
        // It covers this replica's earlier changes on the record, as every local edit does: a
        // record's vector takes an author's changes on it in counter order, so one that did not
        // would make a store that applied it first ignore the earlier one as a duplicate.
        var deps = deps
        deps[replica] = max(deps[replica], try applier.state(of: original.record).version[replica])
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
