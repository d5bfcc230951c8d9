import OutpostCore

/// Applies changes to the store inside one write transaction, by the sync spec's rules.
///
/// Local edits and remote changes both come through `apply(_:)`. Record states are cached for
/// the transaction and written once in `finish()`.
final class ChangeApplier {
    /// A class, so the cache's entry is mutated in place (no copy-on-write of the state).
    private final class CachedRecord {
        /// The state, except while `fresh` is set: then the state is this (empty) plus `fresh`.
        private var storedState: RecordState
        /// The one change of a record it created, kept as is until something needs the merged
        /// state (a bulk import or a pull of new records then never builds one).
        private(set) var fresh: Change?
        var createdMs: Int64
        var updatedMs: Int64
        var updatedSeq: Int64
        /// The row's rowid in `records`, nil until the record is first written.
        let rowid: Int64?
        /// The record's applied changes, "replicaIdx.counter" separated by spaces (`records.log`).
        var log: [UInt8]
        var dirty = false
        var mayHavePending: Bool?
        /// Whether a change applied in this transaction wrote a field `q` searches (the query
        /// indexes then rewrite the record's text entries).
        var wroteSearchedText = false

        init(state: RecordState, rowid: Int64?, createdMs: Int64, updatedMs: Int64, updatedSeq: Int64, log: [UInt8]) {
            self.storedState = state
            self.rowid = rowid
            self.createdMs = createdMs
            self.updatedMs = updatedMs
            self.updatedSeq = updatedSeq
            self.log = log
        }

        /// A record with no writes yet, not in the table.
        static func new() -> CachedRecord {
            CachedRecord(state: RecordState(), rowid: nil, createdMs: 0, updatedMs: 0, updatedSeq: 0, log: [])
        }

        /// The merged state (built from `fresh` on first use).
        var state: RecordState {
            if let change = fresh {
                storedState.apply(change)
                fresh = nil
            }
            return storedState
        }

        /// Applies a change the caller has decided to apply.
        func apply(_ change: Change) {
            if !wroteSearchedText { wroteSearchedText = IncidentFilter.searchedFields.contains { change.writes[$0] != nil } }
            if fresh == nil, storedState.isEmpty, change.writes[Change.deletedField] == nil {
                fresh = change
            } else {
                _ = state
                storedState.apply(change)
            }
        }

        /// Appends one applied change to `log`.
        func appendToLog(replicaIdx: Int64, counter: UInt64) {
            if !log.isEmpty { log.append(UInt8(ascii: " ")) }
            JSONValue.writeInt(replicaIdx, to: &log)
            log.append(UInt8(ascii: "."))
            JSONValue.writeInt(Int64(counter), to: &log)
        }
    }

    private let store: Store
    private let db: Database
    private var records: [RecordKey: CachedRecord] = [:]
    /// Records in the order they were first changed (`finish()` writes them in table order;
    /// for an import of new time-ordered ids this order already is).
    private var dirtyRecords: [(key: RecordKey, record: CachedRecord)] = []
    private var touchedReplicas: Set<Int64> = []
    private var nextSeq: Int64
    private let receivedMs: Int64
    private(set) var report = ApplyReport()
    /// One buffer reused for every encoded change body and record state (no allocation per row).
    private var scratch: [UInt8] = {
        var buffer: [UInt8] = []; buffer.reserveCapacity(4096); return buffer
    }()
    /// Whether any change is held back in the store (or this batch); when not, no record needs a look.
    private var anyHeldBack: Bool
    /// How much one author may keep held back.
    private let heldBackLimits: HeldBackLimits
    /// What each author this transaction held back or released keeps held (read once per author).
    private var heldByAuthor: [Int64: HeldBackCount] = [:]
    /// Changes held back by this transaction, by log position: released without reading them back.
    private var heldInBatch: [Int64: Change] = [:]
    /// From how many change bodies (in `apply(_:)` of a list) or record states (in `finish()`)
    /// on the encoding moves to a second thread (`Store.encodingPipelineThreshold`).
    private let pipelineThreshold: Int
    /// Changes stored as unverified (`verified` NULL): their author is not in the roster yet.
    var unverified: Set<Dot> = []
    /// Stored verification outcomes to keep as they are (a rebuilt record's changes); others are 1.
    var keptVerification: [Dot: Int64?] = [:]
    /// The server token that delivered this batch (`changes.delivered_by`).
    var deliveredBy: Int64?
    /// Delivering tokens to keep as they are (a rebuilt record's changes).
    var keptDeliveredBy: [Dot: Int64] = [:]
    /// The authors' public keys by which two versions of one dot are checked (`settleReusedDot`);
    /// an author not named here has its reused dots refused.
    var signatureKeys: [ReplicaID: [UInt8]] = [:]
    /// Revoked authors: a second version of one of their dots never replaces the held one (a
    /// stolen key, once revoked, cannot rewrite its owner's past), it is only reported.
    var revokedAuthors: Set<ReplicaID> = []
    /// Dots met in two signed versions, in the order met (the store settles them after `finish()`).
    private(set) var reusedDots: [ReusedDot] = []
    /// Received versions that beat the stored version of their dot: the stored row's log position
    /// and the winner, which replaces it after `finish()`.
    private(set) var replacements: [Dot: (storedSeq: Int64, winner: Change)] = [:]

    init(store: Store, receivedMs: Int64, heldBackLimits: HeldBackLimits = .standard) throws {
        self.store = store
        self.db = store.db
        self.receivedMs = receivedMs
        self.heldBackLimits = heldBackLimits
        self.pipelineThreshold = store.encodingPipelineThreshold
        nextSeq = try db.cached("SELECT coalesce(max(seq), 0) + 1 FROM changes").first { $0.int(0) } ?? 1
        anyHeldBack = try db.cached("SELECT EXISTS (SELECT 1 FROM changes WHERE applied = 0)").first { $0.int(0) != 0 } ?? true
    }

    /// Makes room in the record cache for `count` records (a bulk import touches each once).
    func reserveCapacity(_ count: Int) {
        records.reserveCapacity(count)
        dirtyRecords.reserveCapacity(count)
    }

    /// The current state of a record (empty when it has no writes yet).
    func state(of key: RecordKey) throws -> RecordState {
        try load(key).state
    }

    /// Caches `key` as a record with no writes without looking it up: for an id this
    /// transaction just made (a time-ordered UUID no other replica can have made). Were it
    /// somehow taken, the records table's unique key still fails the whole transaction.
    func assumeNew(_ key: RecordKey) {
        if records[key] == nil { records[key] = CachedRecord.new() }
    }

    /// Loads every record `changes` touch, in key order. Time-ordered ids make that the tables'
    /// own order, so each page is read once; in the changes' order a large batch read pages at
    /// random, and the page cache evicted and read many of them again.
    func preload(recordsOf changes: [Change]) throws {
        guard changes.count > 1 else { return }
        var keys = Array(Set(changes.lazy.map(\.record)))
        keys.sort()
        for key in keys { _ = try load(key) }
    }

    /// Whether the record has any write.
    func exists(_ key: RecordKey) throws -> Bool {
        !(try load(key).state.fields.isEmpty)
    }

    /// Applies, holds back or ignores each change in turn; their bodies are encoded on a second
    /// thread while this one writes (from `pipelineThreshold` changes on).
    func apply(_ changes: [Change]) throws {
        guard changes.count >= pipelineThreshold else {
            for change in changes { try apply(change) }
            return
        }
        // An encrypted store's bodies are sealed on the encoder thread too.
        let cipher = store.cipher
        let nonces = NonceSource()
        let bodies = EncodingPipeline(items: changes) { change, out in
            guard let cipher else { return change.write(to: &out) }
            let start = out.count
            change.write(to: &out)
            try cipher.sealTail(of: &out, from: start, for: .changeBody(change.record, change.dot), nonces: nonces)
        }
        for (i, change) in changes.enumerated() {
            try bodies.withEncoded(at: i) { body in try apply(change, encodedBody: body) }
        }
    }

    /// Applies, holds back or ignores one change (`encodedBody`: its body as stored, wire JSON
    /// sealed when the store is encrypted, when already encoded).
    ///
    /// A change whose dot the store already holds for another record or with other content is a
    /// reused dot: when both versions verify under their author's key (`signatureKeys`) the one
    /// whose canonical bytes have the lower SHA-256 wins (`settleReusedDot`); otherwise it is
    /// refused (`StoreError.Kind.reusedDot`) and the caller's transaction stores nothing.
    func apply(_ change: Change, encodedBody: UnsafeRawBufferPointer? = nil) throws {
        let replicaIdx = try store.index(of: change.dot.replica, reporter: change.reporter)
        let record = try load(change.record)
        switch record.state.decide(change) {
        case .duplicate:
            if case .otherVersion(let seq, let stored) = try storedTwin(
                of: change, replicaIdx: replicaIdx, encodedBody: encodedBody)
            {
                return try settleReusedDot(change, storedSeq: seq, stored: stored)
            }
            report.duplicates += 1
        case .holdBack:
            let missing = missingDeps(of: change, in: record.state)
            _ = try heldCount(of: replicaIdx)  // read before this row adds to it
            try insert(change, replicaIdx: replicaIdx, applied: false, waiting: missing.count, encodedBody: encodedBody)
            if db.changes > 0 {
                try hold(change, seq: nextSeq, replicaIdx: replicaIdx, missing: missing, record: record)
                nextSeq += 1
                touchedReplicas.insert(replicaIdx)
            } else {
                if case .otherVersion(let seq, let stored) = try storedTwin(
                    of: change, replicaIdx: replicaIdx, encodedBody: encodedBody)
                {
                    return try settleReusedDot(change, storedSeq: seq, stored: stored)
                }
                report.duplicates += 1
            }
        case .apply:
            try insert(change, replicaIdx: replicaIdx, applied: true, waiting: 0, encodedBody: encodedBody)
            if db.changes == 0 {
                // The store holds this dot: the same change is fine, another one is a reused dot.
                let twinSeq: Int64
                switch try storedTwin(of: change, replicaIdx: replicaIdx, encodedBody: encodedBody) {
                case .otherVersion(let seq, let stored):
                    return try settleReusedDot(change, storedSeq: seq, stored: stored)
                case .same(let seq, applied: false):
                    twinSeq = seq
                case .same, .none:
                    report.duplicates += 1
                    return
                }
                // Held back earlier and its deps are met, yet it was not released: apply it now
                // (its row moves to the end of the log, its waits go).
                try db.cached("DELETE FROM held_waits WHERE collection = ? AND record = ? AND seq = ?")
                    .bind(.text(change.record.collection), .text(change.record.id), .integer(twinSeq)).run()
                try markApplied(seq: twinSeq, replicaIdx: replicaIdx)
                heldByAuthor[replicaIdx] = nil
            }
            touchedReplicas.insert(replicaIdx)
            applyToState(change, replicaIdx: replicaIdx, record: record)
            report.applied += 1
            try releaseHeldBack(after: change.dot, on: change.record, record: record)
        }
    }

    private func applyToState(_ change: Change, replicaIdx: Int64, record: CachedRecord) {
        if record.log.isEmpty { record.createdMs = change.tag.ms }
        record.apply(change)
        record.appendToLog(replicaIdx: replicaIdx, counter: change.dot.counter)
        record.updatedMs = max(record.updatedMs, change.tag.ms)
        record.updatedSeq = nextSeq
        if !record.dirty {
            record.dirty = true
            dirtyRecords.append((change.record, record))
        }
        nextSeq += 1
    }

    private func insert(
        _ change: Change, replicaIdx: Int64, applied: Bool, waiting: Int, encodedBody: UnsafeRawBufferPointer?
    ) throws {
        let statement = try db.cached(
            "INSERT OR IGNORE INTO changes (seq, replica, counter, collection, record, ms, body, applied, received_ms, waiting, verified, delivered_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        try statement.bind(
            .integer(nextSeq), .integer(replicaIdx), .integer(Int64(change.dot.counter)), .text(change.record.collection),
            .text(change.record.id), .integer(change.tag.ms))
        if let encodedBody {
            try statement.bindBlob(encodedBody, at: 7)
        } else {
            scratch.removeAll(keepingCapacity: true)
            change.write(to: &scratch)
            if let cipher = store.cipher {
                try cipher.sealTail(of: &scratch, from: 0, for: .changeBody(change.record, change.dot))
            }
            try statement.bind(.blob(scratch), at: 7)
        }
        try statement.bind(.integer(applied ? 1 : 0), at: 8)
        try statement.bind(.integer(receivedMs), at: 9)
        try statement.bind(.integer(Int64(waiting)), at: 10)
        let verified: Int64? =
            if let kept = keptVerification[change.dot] { kept } else { unverified.contains(change.dot) ? nil : 1 }
        try statement.bind(verified.map(SQLValue.integer) ?? .null, at: 11)
        let deliverer = keptDeliveredBy[change.dot] ?? deliveredBy
        try statement.bind(deliverer.map(SQLValue.integer) ?? .null, at: 12)
        try statement.run()
    }

    /// What the store holds under a received change's dot.
    enum Twin {
        /// Nothing.
        case none
        /// The same change, at this log position.
        case same(seq: Int64, applied: Bool)
        /// Another change (another record or other content), at this log position; nil when
        /// its stored body no longer parses.
        case otherVersion(seq: Int64, stored: Change?)
    }

    /// The row the store holds under `change`'s dot: none, the same change, or another version.
    ///
    /// The same change is recognised by its bytes: the stored body is the change's deterministic
    /// wire encoding (`Change.write(to:)`), so an exact duplicate encodes to the same bytes. A body
    /// stored by an older encoder may differ in bytes alone, so unequal bytes are decoded and
    /// compared as changes before the dot is called reused.
    private func storedTwin(of change: Change, replicaIdx: Int64, encodedBody: UnsafeRawBufferPointer?) throws -> Twin {
        let counter = Int64(change.dot.counter)
        // A sealed body differs from every other sealing of the same bytes: compare the plaintext.
        let encodedBody = store.cipher == nil ? encodedBody : nil
        return try db.cached("SELECT seq, applied, collection, record, body FROM changes WHERE replica = ? AND counter = ?")
            .bind(.integer(replicaIdx), .integer(counter)).first { row -> Twin in
                let seq = row.int(0)
                let place = SealedPlace.changeBody(RecordKey(collection: row.text(2) ?? "", id: row.text(3) ?? ""), change.dot)
                // Parsed only when the row is not the same bytes (an exact duplicate costs no parse).
                let stored = { try? self.store.withOpened(row, 4, at: place) { try Change(storedJSONBytes: $0) } }
                guard (row.text(2) ?? "").utf8.elementsEqual(change.record.collection.utf8),
                    (row.text(3) ?? "").utf8.elementsEqual(change.record.id.utf8)
                else { return .otherVersion(seq: seq, stored: stored()) }
                if encodedBody == nil {
                    scratch.removeAll(keepingCapacity: true)
                    change.write(to: &scratch)
                }
                let sameBytes = try store.withOpened(row, 4, at: place) { bytes -> Bool in
                    if let encodedBody { return bytes.elementsEqual(encodedBody) }
                    return bytes.elementsEqual(scratch)
                }
                if !sameBytes {
                    let parsed = stored()
                    if parsed != change { return .otherVersion(seq: seq, stored: parsed) }
                }
                return .same(seq: seq, applied: row.int(1) != 0)
            } ?? .none
    }

    /// Settles a received change whose dot the store holds as another change (`trust.md`,
    /// "Restored stores"). When both versions verify under their author's key, the one whose
    /// canonical bytes have the lower SHA-256 is kept and the other reported (`reusedDots`); a
    /// received winner replaces the stored loser after this applier finishes (`replacements`),
    /// so the two are never applied side by side. Versions that do not both verify (an author
    /// not in the roster, an unsigned or altered body) are refused as before: the whole batch.
    private func settleReusedDot(_ change: Change, storedSeq: Int64, stored: Change?) throws {
        let storedRecord = stored?.record ?? change.record
        let refusal = StoreError.reusedDot(
            change.dot, storedRecord: storedRecord, otherRecord: storedRecord == change.record ? nil : change.record)
        guard let stored, let key = signatureKeys[change.dot.replica], SignatureCheck.isValid(change, publicKey: key),
            SignatureCheck.isValid(stored, publicKey: key)
        else { throw refusal }
        // A version that already won over the stored one in this batch is the one to beat.
        let current = replacements[change.dot]?.winner ?? stored
        let currentBytes = current.canonicalBytes()
        let incomingBytes = change.canonicalBytes()
        if currentBytes == incomingBytes {
            // The same change in its signed content (the unsigned `reporter` text aside).
            report.duplicates += 1
            return
        }
        if ReusedDot.precedes(incomingBytes, currentBytes) && !revokedAuthors.contains(change.dot.replica) {
            replacements[change.dot] = (storedSeq, change)
            reusedDots.append(ReusedDot(dot: change.dot, kept: change, discarded: current))
        } else {
            reusedDots.append(ReusedDot(dot: change.dot, kept: current, discarded: change))
        }
    }

    /// The deps of `change` that `state`'s version vector does not cover yet, in replica order.
    private func missingDeps(of change: Change, in state: RecordState) -> [(replica: ReplicaID, counter: UInt64)] {
        var missing: [(replica: ReplicaID, counter: UInt64)] = []
        for (replica, counter) in change.deps.entries where state.version[replica] < counter {
            missing.append((replica, counter))
        }
        missing.sort { $0.replica < $1.replica }
        return missing
    }

    /// Records a change just stored held back at `seq`: counts it against its author's bound
    /// and indexes it by every dependency it waits for.
    private func hold(
        _ change: Change, seq: Int64, replicaIdx: Int64, missing: [(replica: ReplicaID, counter: UInt64)],
        record: CachedRecord
    ) throws {
        var held = try heldCount(of: replicaIdx)
        held.changes += 1
        held.missingDeps += missing.count
        if held.changes > heldBackLimits.changesPerAuthor || held.missingDeps > heldBackLimits.missingDepsPerAuthor {
            throw StoreError.tooManyHeldBack(change.dot, held: held, limits: heldBackLimits)
        }
        heldByAuthor[replicaIdx] = held
        try indexWaits(of: change, seq: seq, missing: missing)
        heldInBatch[seq] = change
        anyHeldBack = true
        report.heldBack += 1
        record.mayHavePending = true
    }

    /// Adds a held change's waits, one per dependency it misses.
    private func indexWaits(of change: Change, seq: Int64, missing: [(replica: ReplicaID, counter: UInt64)]) throws {
        let wait = try db.cached("INSERT INTO held_waits (collection, record, replica, counter, seq) VALUES (?, ?, ?, ?, ?)")
        for dep in missing {
            try wait.bind(
                .text(change.record.collection), .text(change.record.id), .blob(dep.replica.bytes), .integer(Int64(dep.counter)),
                .integer(seq)
            ).run()
        }
    }

    /// What an author keeps held back now (read from the store the first time this transaction asks).
    private func heldCount(of replicaIdx: Int64) throws -> HeldBackCount {
        if let known = heldByAuthor[replicaIdx] { return known }
        let count =
            try db.cached("SELECT count(*), coalesce(sum(max(waiting, 0)), 0) FROM changes WHERE replica = ? AND applied = 0")
            .bind(.integer(replicaIdx)).first { HeldBackCount(changes: Int($0.int(0)), missingDeps: Int($0.int(1))) }
            ?? HeldBackCount()
        heldByAuthor[replicaIdx] = count
        return count
    }

    /// Moves the held row at `seq` to the end of the log as applied (the caller applies the change).
    private func markApplied(seq: Int64, replicaIdx: Int64) throws {
        try db.cached("UPDATE changes SET seq = ?, applied = 1, waiting = 0 WHERE seq = ?")
            .bind(.integer(nextSeq), .integer(seq)).run()
        heldInBatch[seq] = nil
        if var held = heldByAuthor[replicaIdx] {
            held.changes -= 1
            heldByAuthor[replicaIdx] = held
        }
    }

    /// After `dot` was applied to a record: applies every held change of the record waiting for
    /// nothing else, then those waiting for these, and so on. Each step looks up only the waits
    /// on the dot just applied, so the work is linear in the changes released.
    private func releaseHeldBack(after dot: Dot, on key: RecordKey, record: CachedRecord) throws {
        guard anyHeldBack else { return }
        if record.mayHavePending == nil {
            record.mayHavePending =
                try db.cached("SELECT 1 FROM held_waits WHERE collection = ? AND record = ? LIMIT 1")
                .bind(.text(key.collection), .text(key.id)).first { _ in true } ?? false
        }
        guard record.mayHavePending == true else { return }
        var applied = [dot]
        var next = 0
        while next < applied.count {
            let ready = try satisfyWaits(on: key, replica: applied[next].replica, upTo: applied[next].counter)
            next += 1
            for seq in ready {
                let (replicaIdx, change) = try heldChange(at: seq)
                switch record.state.decide(change) {
                case .apply:
                    try markApplied(seq: seq, replicaIdx: replicaIdx)
                    applyToState(change, replicaIdx: replicaIdx, record: record)
                    touchedReplicas.insert(replicaIdx)
                    report.applied += 1
                    report.released += 1
                    applied.append(change.dot)
                case .duplicate:
                    // Its dot is covered though its deps were not (a faulty author): it is never
                    // applied and stays held, waiting for nothing.
                    heldInBatch[seq] = nil
                case .holdBack:
                    // Not expected (its waits were every dependency missing), but never dropped:
                    // it waits again for what it still misses.
                    let missing = missingDeps(of: change, in: record.state)
                    try db.cached("UPDATE changes SET waiting = ? WHERE seq = ?").bind(
                        .integer(Int64(missing.count)), .integer(seq)
                    )
                    .run()
                    try indexWaits(of: change, seq: seq, missing: missing)
                    heldByAuthor[replicaIdx] = nil
                }
            }
        }
    }

    /// Removes the record's waits that `replica` reaching `counter` meets; returns the log
    /// positions of the held changes that now wait for nothing, in log order.
    private func satisfyWaits(on key: RecordKey, replica: ReplicaID, upTo counter: UInt64) throws -> [Int64] {
        var met: [(seq: Int64, author: Int64, waiting: Int64)] = []
        try db.cached(
            """
            SELECT w.seq, c.replica, c.waiting FROM held_waits w JOIN changes c ON c.seq = w.seq
            WHERE w.collection = ? AND w.record = ? AND w.replica = ? AND w.counter <= ?
            """
        )
        .bind(.text(key.collection), .text(key.id), .blob(replica.bytes), .integer(Int64(counter))).forEach { row in
            met.append((row.int(0), row.int(1), row.int(2)))
        }
        guard !met.isEmpty else { return [] }
        try db.cached("DELETE FROM held_waits WHERE collection = ? AND record = ? AND replica = ? AND counter <= ?")
            .bind(.text(key.collection), .text(key.id), .blob(replica.bytes), .integer(Int64(counter))).run()
        let lower = try db.cached("UPDATE changes SET waiting = ? WHERE seq = ?")
        var ready: [Int64] = []
        for wait in met {
            let waiting = max(wait.waiting - 1, 0)
            try lower.bind(.integer(waiting), .integer(wait.seq)).run()
            if var held = heldByAuthor[wait.author] {
                held.missingDeps -= 1
                heldByAuthor[wait.author] = held
            }
            if waiting == 0 { ready.append(wait.seq) }
        }
        ready.sort()
        return ready
    }

    /// A held change: from this transaction's memory, else read back from the log (parsed once).
    private func heldChange(at seq: Int64) throws -> (replicaIdx: Int64, change: Change) {
        if let change = heldInBatch[seq] {
            return (try store.index(of: change.dot.replica, reporter: change.reporter), change)
        }
        guard
            let held = try db.cached("SELECT replica, \(Store.changeColumns) FROM changes WHERE seq = ?").bind(.integer(seq))
                .first({ row -> (Int64, Change) in (row.int(0), try store.change(fromRow: row, at: 1)) })
        else { throw StoreError(.storage, "a held-back change waits at log position \(seq), which the log does not hold") }
        store.heldBackBodiesParsed += 1
        return held
    }

    /// Indexes the changes an older schema held back (`waiting = -1`, see `Schema/0004`): each is
    /// held by what it still waits for, or applied when nothing (which releases others in turn).
    func indexHeldBackOfOlderSchema() throws {
        var rows: [(seq: Int64, replicaIdx: Int64, change: Change)] = []
        try db.cached("SELECT seq, replica, \(Store.changeColumns) FROM changes WHERE applied = 0 AND waiting < 0 ORDER BY seq")
            .forEach { row in
                rows.append((row.int(0), row.int(1), try store.change(fromRow: row, at: 2)))
            }
        let setWaiting = try db.cached("UPDATE changes SET waiting = ? WHERE seq = ?")
        for row in rows {
            let record = try load(row.change.record)
            switch record.state.decide(row.change) {
            case .holdBack:
                let missing = missingDeps(of: row.change, in: record.state)
                try setWaiting.bind(.integer(Int64(missing.count)), .integer(row.seq)).run()
                try indexWaits(of: row.change, seq: row.seq, missing: missing)
                anyHeldBack = true
                record.mayHavePending = true
            case .apply:
                try markApplied(seq: row.seq, replicaIdx: row.replicaIdx)
                touchedReplicas.insert(row.replicaIdx)
                applyToState(row.change, replicaIdx: row.replicaIdx, record: record)
                report.applied += 1
                report.released += 1
                try releaseHeldBack(after: row.change.dot, on: row.change.record, record: record)
            case .duplicate:
                try setWaiting.bind(.integer(0), .integer(row.seq)).run()
            }
        }
    }

    private func load(_ key: RecordKey) throws -> CachedRecord {
        if let cached = records[key] { return cached }
        let loaded =
            try db.cached(
                "SELECT state, created_ms, updated_ms, updated_seq, log, rowid FROM records WHERE collection = ? AND id = ?"
            )
            .bind(.text(key.collection), .text(key.id)).first { row -> CachedRecord in
                CachedRecord(
                    state: try store.decodeState(row, column: 0, key: key), rowid: row.int(5), createdMs: row.int(1),
                    updatedMs: row.int(2),
                    updatedSeq: row.int(3), log: row.bytes(4))
            }
        let record = loaded ?? CachedRecord.new()
        records[key] = record
        return record
    }

    /// Writes every changed record and advances the per-replica contiguous counters.
    func finish() throws {
        // New records are inserted; loaded ones are updated in place by rowid (no second index probe).
        let insert = try db.cached(
            """
            INSERT INTO records (collection, id, state, log, deleted, conflict, created_ms, updated_ms, updated_seq)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        let update = try db.cached(
            """
            UPDATE records SET state = ?3, log = ?4, deleted = ?5, conflict = ?6, created_ms = ?7, updated_ms = ?8,
              updated_seq = ?9 WHERE rowid = ?1
            """)
        let numbering = store.numbering
        // The server's query indexes, kept in this transaction; nil on a device store.
        let queryIndex = try QueryIndexWriter(store: store)
        // In table order: rows updated by ascending rowid, new rows by key. In the order they
        // were changed, new rows landed at random places in the key index, and a large batch
        // re-dirtied (and spilled to the WAL) the same index pages again and again. An import's
        // new time-ordered ids come in key order already, and the sort only confirms it.
        var dirty = dirtyRecords
        dirtyRecords = []
        dirty.sort { a, b in
            switch (a.record.rowid, b.record.rowid) {
            case (let x?, let y?): return x < y
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return a.key < b.key
            }
        }
        // What each state is encoded from: a record's one creating change (one sibling per field,
        // nothing deleted or in conflict), else its merged state.
        let sources = dirty.map { entry -> StateSource in
            if let change = entry.record.fresh { return .creating(change) }
            return .merged(entry.record.state)
        }
        let cipher = store.cipher
        var states: EncodingPipeline<(RecordKey, StateSource)>?
        if sources.count >= pipelineThreshold {
            // Every replica a state names was numbered while its changes were applied, so a
            // snapshot of the numbering serves the encoder thread; a miss falls back to this one.
            // An encrypted store's states are sealed there too.
            let frozen = store.frozenNumbering
            let nonces = NonceSource()
            states = EncodingPipeline(items: zip(dirty.lazy.map(\.key), sources).map { ($0, $1) }) { item, out in
                let start = out.count
                try item.1.write(numbering: frozen, to: &out)
                if let cipher { try cipher.sealTail(of: &out, from: start, for: .recordState(item.0), nonces: nonces) }
            }
        }
        for (i, (key, record)) in dirty.enumerated() {
            let source = sources[i]
            let (conflicted, deleted) = source.flags
            if conflicted { report.conflictedRecords += 1 }
            let statement: Statement
            if let rowid = record.rowid {
                statement = update
                try statement.bind(.integer(rowid), at: 1)
            } else {
                statement = insert
                try statement.bind(.text(key.collection), at: 1)
                try statement.bind(.text(key.id), at: 2)
            }
            let encodedElsewhere =
                try states?.withEncoded(at: i) { bytes -> Bool in
                    guard let bytes else { return false }
                    try statement.bindBlob(bytes, at: 3)
                    return true
                } ?? false
            if !encodedElsewhere {
                scratch.removeAll(keepingCapacity: true)
                try source.write(numbering: numbering, to: &scratch)
                if let cipher { try cipher.sealTail(of: &scratch, from: 0, for: .recordState(key)) }
                try statement.bind(.blob(scratch), at: 3)
            }
            try statement.bindText(utf8: record.log, at: 4)
            try statement.bind(.integer(deleted ? 1 : 0), at: 5)
            try statement.bind(.integer(conflicted ? 1 : 0), at: 6)
            try statement.bind(.integer(record.createdMs), at: 7)
            try statement.bind(.integer(record.updatedMs), at: 8)
            try statement.bind(.integer(record.updatedSeq), at: 9)
            try statement.run()
            if let queryIndex, key.collection == RecordKey.incidents {
                try queryIndex.write(
                    rowid: record.rowid ?? db.lastInsertRowID, id: key.id, fields: source.visibleFields, deleted: deleted,
                    conflict: conflicted, createdMs: record.createdMs, updatedMs: record.updatedMs, updatedSeq: record.updatedSeq,
                    creator: record.log.withUnsafeBufferPointer(QueryIndexWriter.creator(fromLog:)),
                    textChanged: record.rowid == nil || record.wroteSearchedText, isNew: record.rowid == nil)
            }
        }
        for idx in touchedReplicas { try store.advanceContiguous(replicaIdx: idx) }
    }
}

/// What a record's stored state is encoded from.
private enum StateSource: Sendable {
    /// A record only its creating change (which does not write `_deleted`) has written.
    case creating(Change)
    /// Any other record.
    case merged(RecordState)

    /// Appends the compact stored form.
    func write<N: ReplicaNumbering>(numbering: N, to out: inout [UInt8]) throws {
        switch self {
        case .creating(let change): try RecordState.writeBinary(creating: change, numbering: numbering, to: &out)
        case .merged(let state): try state.writeBinary(numbering: numbering, to: &out)
        }
    }

    /// The visible values (a creating change's writes are all visible).
    var visibleFields: [String: JSONValue] {
        switch self {
        case .creating(let change): return change.writes
        case .merged(let state): return state.visibleFields
        }
    }

    /// Whether the record is in conflict, and whether it is deleted.
    var flags: (conflicted: Bool, deleted: Bool) {
        switch self {
        case .creating: return (false, false)
        case .merged(let state): return (state.hasConflict || state.isKeptAliveByConcurrentEdit, state.isDeleted)
        }
    }
}

extension Store {
    /// The local index of a replica, adding it to the replicas table when new.
    func index(of replica: ReplicaID, reporter: String?) throws -> Int64 {
        if let idx = replicaIndex[replica] { return idx }
        if let (idx, known) = try db.cached("SELECT idx, reporter FROM replicas WHERE id = ?").bind(.blob(replica.bytes))
            .first({ ($0.int(0), try Store.openedText($0, 1, for: .replicaReporter(replica), cipher: cipher)) })
        {
            // Added by another connection: cache its reporter too (stored states leave it out).
            replicaIndex[replica] = idx
            replicaByIndex[idx] = replica
            reporterByIndex[idx] = known
            return idx
        }
        try db.cached("INSERT INTO replicas (id, reporter) VALUES (?, ?)")
            .bind(.blob(replica.bytes), try Store.storedText(reporter, for: .replicaReporter(replica), cipher: cipher)).run()
        let idx = db.lastInsertRowID
        replicaIndex[replica] = idx
        replicaByIndex[idx] = replica
        reporterByIndex[idx] = reporter
        return idx
    }

    /// The reporter recorded for a local index, reloading the table when another process added it.
    func reporter(forIndex idx: Int64) throws -> String? {
        if replicaByIndex[idx] == nil { try loadReplicas() }
        return reporterByIndex[idx]
    }

    /// The replicas table as the numbering of the compact record state.
    var numbering: StoreReplicaNumbering { StoreReplicaNumbering(store: self) }

    /// A snapshot of the numbering, for another thread: it knows only the replicas known now.
    var frozenNumbering: FrozenReplicaNumbering {
        FrozenReplicaNumbering(numbers: replicaIndex, replicas: replicaByIndex, reporters: reporterByIndex)
    }

    /// Decodes the stored state of the record `key`.
    func decodeState(_ row: Row, column: Int32, key: @autoclosure () -> RecordKey) throws -> RecordState {
        try withOpened(row, column, at: .recordState(key())) { try RecordState(binary: $0, numbering: numbering) }
    }
}

/// The numbering of replicas by their index in a store's `replicas` table.
struct StoreReplicaNumbering: ReplicaNumbering {
    let store: Store

    func number(of replica: ReplicaID) throws -> Int64 { try store.index(of: replica, reporter: nil) }
    func replica(numbered number: Int64) throws -> ReplicaID { try store.replicaID(forIndex: number) }
    func reporter(numbered number: Int64) throws -> String? { try store.reporter(forIndex: number) }
}

/// A fixed copy of a store's numbering, safe to use from any thread; a replica it does not
/// know is an error (the caller then uses the store's own numbering).
struct FrozenReplicaNumbering: ReplicaNumbering, Sendable {
    let numbers: [ReplicaID: Int64]
    let replicas: [Int64: ReplicaID]
    let reporters: [Int64: String]

    func number(of replica: ReplicaID) throws -> Int64 {
        guard let number = numbers[replica] else { throw StoreError(.storage, "replica \(replica.hex) is not numbered yet") }
        return number
    }

    func replica(numbered number: Int64) throws -> ReplicaID {
        guard let replica = replicas[number] else { throw StoreError(.storage, "no replica numbered \(number) yet") }
        return replica
    }

    func reporter(numbered number: Int64) throws -> String? {
        guard replicas[number] != nil else { throw StoreError(.storage, "no replica numbered \(number) yet") }
        return reporters[number]
    }
}

extension Store {

    /// The replica id of a local index, reloading the table when another process added it.
    func replicaID(forIndex idx: Int64) throws -> ReplicaID {
        if let id = replicaByIndex[idx] { return id }
        try loadReplicas()
        guard let id = replicaByIndex[idx] else { throw StoreError(.storage, "change log names unknown replica index \(idx)") }
        return id
    }

    /// Moves a replica's contiguous counter past every change now present.
    func advanceContiguous(replicaIdx: Int64) throws {
        var contiguous =
            try db.cached("SELECT contiguous FROM replicas WHERE idx = ?").bind(.integer(replicaIdx))
            .first { $0.int(0) } ?? 0
        let start = contiguous
        let next = try db.cached("SELECT counter FROM changes WHERE replica = ? AND counter > ? ORDER BY counter")
        try next.bind(.integer(replicaIdx), .integer(contiguous))
        // Stops at the first gap: the rows above it (a held-forever tail, say) are not read again
        // by every batch.
        try next.scan { row in
            guard row.int(0) == contiguous + 1 else { return false }
            contiguous += 1
            return true
        }
        if contiguous != start {
            try db.cached("UPDATE replicas SET contiguous = ? WHERE idx = ?").bind(.integer(contiguous), .integer(replicaIdx))
                .run()
        }
    }
}
