import Foundation
import OutpostCore

/// One incident to import: an optional id and its fields.
public struct IncidentInput: Hashable, Sendable {
    /// The incident's id; a new UUID is made when nil.
    public var id: String?
    /// Field → value.
    public var fields: [String: JSONValue] {
        didSet { isChecked = false }
    }
    /// Whether `fields` came from `CheckedIncidentFields` unchanged (the import does not check them again).
    public private(set) var isChecked = false

    /// Makes an input; the import checks its fields.
    public init(id: String? = nil, fields: [String: JSONValue]) {
        self.id = id
        self.fields = fields
    }

    /// Makes an input of fields already checked as a new incident's.
    public init(id: String? = nil, checked fields: CheckedIncidentFields) {
        self.init(id: id, fields: fields.values)
        isChecked = true
    }

    public static func == (a: IncidentInput, b: IncidentInput) -> Bool { a.id == b.id && a.fields == b.fields }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(id)
        hasher.combine(fields)
    }
}

extension Store {
    /// This replica's counter, clock, reporter and clock offset, read once per transaction.
    struct LocalAuthor {
        var counter: Int64
        var clock: HybridClock
        let reporter: String?
        let offsetMs: Int64
    }

    /// Reads the author state from `meta` (inside a write transaction).
    private func loadAuthor() throws -> LocalAuthor {
        LocalAuthor(
            counter: try metaInt("counter"),
            clock: HybridClock(
                last: HLCTag(ms: try metaInt("clock_ms"), seq: UInt32(truncatingIfNeeded: try metaInt("clock_seq")))),
            reporter: try metaText("reporter"), offsetMs: try metaInt("clock_offset_ms"))
    }

    /// Writes the author's counter and clock back to `meta`.
    private func save(_ author: LocalAuthor) throws {
        try setMeta("counter", .integer(author.counter))
        try setMeta("clock_ms", .integer(author.clock.last.ms))
        try setMeta("clock_seq", .integer(Int64(author.clock.last.seq)))
    }

    /// Makes one local change: next counter, deps = the record's vector, next clock tag.
    private func makeLocalChange(
        _ key: RecordKey, writes: [String: JSONValue], applier: ChangeApplier, wallMs: Int64?, author: inout LocalAuthor,
        signs: Bool = true
    ) throws -> Change {
        author.counter += 1
        let tag = author.clock.next(wallMs: wallMs ?? systemClock() + author.offsetMs)
        let change = Change(
            dot: Dot(replica: replica, counter: UInt64(author.counter)), record: key, deps: try applier.state(of: key).version,
            tag: tag, writes: writes, reporter: author.reporter)
        return signs ? self.key.signed(change) : change
    }

    private func localEdit(
        _ key: RecordKey, writes: [String: JSONValue], wallMs: Int64?, check: (RecordState) throws -> Void
    ) throws(StoreError) -> Change {
        try write {
            let applier = try ChangeApplier(store: self, receivedMs: systemClock())
            try check(try applier.state(of: key))
            var author = try loadAuthor()
            let change = try makeLocalChange(key, writes: writes, applier: applier, wallMs: wallMs, author: &author)
            try applier.apply(change)
            try save(author)
            try applier.finish()
            return change
        }
    }

    /// Records a new incident; returns its change (the id is `change.record.id`).
    @discardableResult
    public func create(id: String? = nil, fields: [String: JSONValue], wallMs: Int64? = nil) throws(StoreError) -> Change {
        do { try IncidentSchema.validateNew(fields: fields) } catch { throw StoreError(.invalidValue, error.description) }
        let key = RecordKey(id: try checkedID(id))
        return try localEdit(key, writes: fields, wallMs: wallMs) { state in
            if !state.fields.isEmpty { throw StoreError(.alreadyExists, "an incident with id \(key.id) already exists") }
        }
    }

    /// Edits fields of an incident (`null` clears a field).
    @discardableResult
    public func update(id: String, fields: [String: JSONValue], wallMs: Int64? = nil) throws(StoreError) -> Change {
        guard !fields.isEmpty else { throw StoreError(.invalidValue, "nothing to change: give at least one field") }
        if fields[Change.deletedField] != nil {
            throw StoreError(.invalidValue, "\(Change.deletedField): use delete and restore")
        }
        do { try IncidentSchema.validate(writes: fields) } catch { throw StoreError(.invalidValue, error.description) }
        return try localEdit(RecordKey(id: id), writes: fields, wallMs: wallMs) { state in
            try Store.requireExisting(state, id: id)
            if state.isDeleted { throw StoreError(.invalidState, "incident \(id) is deleted; restore it before editing") }
        }
    }

    /// Deletes an incident (its history stays, and edits its author had not seen keep it alive).
    @discardableResult
    public func delete(id: String, wallMs: Int64? = nil) throws(StoreError) -> Change {
        try localEdit(RecordKey(id: id), writes: [Change.deletedField: .bool(true)], wallMs: wallMs) { state in
            try Store.requireExisting(state, id: id)
            if state.isDeleted { throw StoreError(.invalidState, "incident \(id) is already deleted") }
        }
    }

    /// Restores a deleted incident.
    @discardableResult
    public func restore(id: String, wallMs: Int64? = nil) throws(StoreError) -> Change {
        try localEdit(RecordKey(id: id), writes: [Change.deletedField: .bool(false)], wallMs: wallMs) { state in
            try Store.requireExisting(state, id: id)
            if !state.isDeleteVisible { throw StoreError(.invalidState, "incident \(id) is not deleted") }
        }
    }

    /// Writes a value to one field, replacing every sibling (how a conflict is resolved).
    @discardableResult
    public func resolve(id: String, field: String, value: JSONValue, wallMs: Int64? = nil) throws(StoreError) -> Change {
        if field == Change.deletedField {
            guard case .bool = value else { throw StoreError(.invalidValue, "\(field): must be true or false") }
        } else {
            do { try IncidentSchema.validate(field: field, value: value) } catch {
                throw StoreError(.invalidValue, error.description)
            }
        }
        return try localEdit(RecordKey(id: id), writes: [field: value], wallMs: wallMs) { state in
            try Store.requireExisting(state, id: id)
        }
    }

    /// Imports incidents all-or-nothing in one transaction; returns the ids in input order.
    public func importIncidents(_ inputs: [IncidentInput], wallMs: Int64? = nil) throws(StoreError) -> [String] {
        var given = Set<String>()
        for (i, input) in inputs.enumerated() {
            // Fields the import reader checked as it read them are not checked twice.
            if !input.isChecked {
                do { try IncidentSchema.validateNew(fields: input.fields) } catch {
                    throw StoreError(.invalidValue, "incident \(i + 1): \(error.description)")
                }
            }
            if let id = input.id, !given.insert(try checkedID(id)).inserted {
                throw StoreError(.invalidValue, "incident \(i + 1): id \(id) appears twice")
            }
        }
        // One transaction of new rows: a large one goes through a rollback journal (see `write(bulkRows:_:)`).
        return try write(bulkRows: inputs.count) {
            let applier = try ChangeApplier(store: self, receivedMs: systemClock())
            applier.reserveCapacity(inputs.count)
            var author = try loadAuthor()
            // One wall-clock reading for the whole import (the hybrid clock still orders every
            // change), and the random bits of every new id in one read.
            let wallMs = wallMs ?? systemClock() + author.offsetMs
            var fresh = Store.newIDs(count: inputs.count - given.count, ms: wallMs).makeIterator()
            // Every change is made first (each record is new, so its deps are empty whatever
            // order they are applied in), then applied as one list: their bodies are encoded on
            // a second thread while this one writes.
            var changes: [Change] = []
            changes.reserveCapacity(inputs.count)
            for (i, input) in inputs.enumerated() {
                let key = RecordKey(id: input.id ?? fresh.next()!)
                if input.id == nil {
                    applier.assumeNew(key)
                } else if try applier.exists(key) {
                    throw StoreError(.alreadyExists, "incident \(i + 1): id \(key.id) already exists")
                }
                changes.append(
                    try makeLocalChange(
                        key, writes: input.fields, applier: applier, wallMs: wallMs, author: &author, signs: false))
            }
            // Signed on every core at once (about 20 µs each on one).
            self.key.sign(&changes)
            try applier.apply(changes)
            try save(author)
            try applier.finish()
            return changes.map(\.record.id)
        }
    }

    /// Applies changes received from another replica after verifying each (`trust.md`,
    /// "Verifying"): a change that fails is refused as `trust` says (left out and reported, or
    /// the whole batch refused), one whose author the roster does not name is kept as unverified
    /// on a device. A validly signed change of this store's own replica from beyond its counter
    /// shows the store was restored from an older copy: it then continues under a new replica
    /// (`ApplyReport.restoredFrom`). `deliveredBy` is recorded with every change stored (the
    /// server's delivering token).
    ///
    /// The rest is one transaction (all or nothing),
    /// and sets the integer settings (sync cursors) in the same transaction. `bulk`: one whole
    /// delivery (a bundle), written through a rollback journal when it is large and no one else
    /// has the store open (see `write(bulkRows:_:)`). A dot met in two versions that both verify
    /// is settled as `trust.md` says ("Restored stores": the lower SHA-256 is kept, the author
    /// re-issues the other; `ApplyReport.reusedDots`); one whose versions do not both verify, or a
    /// change that takes its author past `heldBackLimits`, refuses the whole batch. Where teams
    /// are in force, a change of a record this device may not read is not applied
    /// (`ApplyReport.withheld`); `sealer` then seals it into a parcel held for the server.
    @discardableResult
    public func applyRemote(
        _ changes: [Change], settings: [String: Int64] = [:], bulk: Bool = false, heldBackLimits: HeldBackLimits = .standard,
        trust: TrustPolicy = .device, deliveredBy: Int64? = nil, sealer: ParcelSealer? = nil
    ) throws(StoreError) -> ApplyReport {
        for change in changes {
            do { try IncidentSchema.validate(writes: change.writes) } catch {
                throw StoreError(.invalidChange, "change \(change.dot): \(error.description)")
            }
        }
        let (keys, held) = try read { (try rosterKeys(), try heldExactly(changes)) }
        let own = replica
        // Verified on every core before the transaction, so the store is not held meanwhile;
        // a change the store already holds byte for byte (a re-sent batch, a pull started over)
        // was checked when it first came and is a duplicate now.
        let checks = SignatureCheck.check(changes) { held.contains($0.dot) ? nil : keys[$0.dot.replica]?.key }
        var refused: [RefusedChange] = []
        var unverified = Set<Dot>()
        var revoked: [Change] = []
        var taken: [Change] = []
        taken.reserveCapacity(changes.count)
        for (i, change) in changes.enumerated() {
            let reason: RefusalReason?
            if held.contains(change.dot) {
                reason = nil
            } else if change.sig == nil {
                reason = .unsigned
            } else {
                switch checks[i] {
                case false?: reason = change.dot.replica == own ? .forgedOwnChange : .badSignature
                case true?:
                    reason = nil
                    if keys[change.dot.replica]?.status == .revoked && trust.refuseRevokedAuthors { revoked.append(change) }
                case nil:
                    reason = trust.requireKnownAuthors ? .unknownAuthor : nil
                    if reason == nil { unverified.insert(change.dot) }
                }
            }
            if let reason {
                let refusal = RefusedChange(dot: change.dot, record: change.record, reason: reason)
                if trust.refuseWholeBatch { throw StoreError.refused(refusal) }
                refused.append(refusal)
            } else {
                taken.append(change)
            }
        }
        return try write(bulkRows: bulk ? taken.count : 0) {
            for change in revoked where !(try holds(change.dot)) {
                throw StoreError.refused(RefusedChange(dot: change.dot, record: change.record, reason: .revokedAuthor))
            }
            // A validly signed change of this replica from beyond its counter: this store is an
            // older copy of itself, and writing on under this ID would reuse those dots.
            let ownCounter = UInt64(max(0, try metaInt("counter")))
            var restoredFrom: ReplicaID?
            if taken.contains(where: { $0.dot.replica == own && $0.dot.counter > ownCounter }) {
                restoredFrom = own
                try rotateAfterRestore()
            }
            // Teams (issue 14): a record this device may not read is never applied here; its
            // changes go into a parcel for the server when `sealer` and a parcel key allow.
            let (kept, withheld) = try withholdUnreadable(taken, trust: trust, sealer: sealer)
            let applier = try ChangeApplier(store: self, receivedMs: systemClock(), heldBackLimits: heldBackLimits)
            applier.unverified = unverified
            applier.deliveredBy = deliveredBy
            applier.signatureKeys = keys.mapValues(\.key)
            applier.revokedAuthors = Set(keys.filter { $0.value.status == .revoked }.keys)
            try applier.preload(recordsOf: kept)
            try applier.apply(kept)
            try applier.finish()
            var report = applier.report
            // Dots met in two signed versions: keep the lower hash, the author re-issues the other.
            try settleReusedDots(
                of: applier, batchReplica: own, restoredFrom: &restoredFrom, heldBackLimits: heldBackLimits,
                deliveredBy: deliveredBy, into: &report)
            for (key, value) in settings { try setMeta(key, .integer(value)) }
            report.refused = refused
            report.unverified = unverified.count
            report.restoredFrom = restoredFrom
            report.withheld = withheld.count
            report.sealedForServer = try holdSealed(withheld, sealer: sealer)
            return report
        }
    }

    /// The dots of `changes` the log holds with exactly these bytes (inside a read). Only a dot
    /// at or below its author's contiguous counter can be held, so a batch of new changes costs
    /// one read of the replicas table and no lookup per change.
    func heldExactly(_ changes: [Change]) throws -> Set<Dot> {
        var contiguous: [ReplicaID: Int64] = [:]
        try db.cached("SELECT id, contiguous FROM replicas WHERE contiguous > 0").forEach {
            contiguous[ReplicaID(bytes: $0.bytes(0))] = $0.int(1)
        }
        var held = Set<Dot>()
        for change in changes where Int64(clamping: change.dot.counter) <= contiguous[change.dot.replica] ?? 0 {
            guard let idx = replicaIndex[change.dot.replica] else { continue }
            let encoded = change.encodedJSON()
            let same =
                try db.cached("SELECT collection, record, body FROM changes WHERE replica = ? AND counter = ?").bind(
                    .integer(idx), .integer(Int64(clamping: change.dot.counter))
                ).first { row in
                    let place = SealedPlace.changeBody(
                        RecordKey(collection: row.text(0) ?? "", id: row.text(1) ?? ""), change.dot)
                    return try withOpened(row, 2, at: place) { $0.elementsEqual(encoded) }
                } ?? false
            if same { held.insert(change.dot) }
        }
        return held
    }

    /// Whether the log holds a change with this dot (inside a transaction).
    func holds(_ dot: Dot) throws -> Bool {
        guard let idx = replicaIndex[dot.replica] else { return false }
        return try db.cached("SELECT 1 FROM changes WHERE replica = ? AND counter = ?").bind(
            .integer(idx), .integer(Int64(clamping: dot.counter))
        ).first { _ in true } ?? false
    }

    static func requireExisting(_ state: RecordState, id: String) throws {
        if state.fields.isEmpty { throw StoreError(.unknownRecord, "no incident with id \(id)") }
    }

    /// `count` new time-ordered UUIDs for `ms`, in ascending order, the random bits of all of
    /// them read at once.
    static func newIDs(count: Int, ms: Int64) -> [String] {
        guard count > 0 else { return [] }
        var random = [UInt64](repeating: 0, count: count * 2)
        // glibc's arc4random_buf (the kernel's CSPRNG) once for every id: two system calls per id
        // (`SystemRandomNumberGenerator`) were 5% of an import.
        random.withUnsafeMutableBytes { arc4random_buf($0.baseAddress!, $0.count) }
        // Sorted, as RFC 9562 (6.2) allows within one millisecond: an import's records then come
        // in the key order the applier writes them in, and that sort finds them already in order.
        var bits = (0..<count).map { (a: random[2 * $0] & 0x0FFF, b: random[2 * $0 + 1] & 0x3FFF_FFFF_FFFF_FFFF) }
        if count > 1 { bits.sort { $0.a != $1.a ? $0.a < $1.a : $0.b < $1.b } }
        return bits.map { UUIDv7.make(ms: ms, randomA: $0.a, randomB: $0.b) }
    }

    /// The given id when valid, else a new time-ordered UUID.
    func checkedID(_ id: String?) throws(StoreError) -> String {
        guard let id else { return Store.newIDs(count: 1, ms: systemClock())[0] }
        guard RecordKey.isValidID(id) else { throw StoreError(.invalidValue, "id: \(RecordKey.idRule)") }
        return id
    }
}
