import Crypto
import OutpostCore

/// Who would read what a device gives away: a replica's reporter and team, from the roster the
/// server signed (issue 14). A reader with no reporter stands for "some reporter of `team`
/// other than any named one" (a bundle written without a summary).
public struct PeerReader: Hashable, Sendable {
    /// The reading replica, when known.
    public var replica: ReplicaID?
    /// Its reporter; nil for an unnamed member of `team` (who reads no restricted record).
    public var reporter: String?
    /// Its team.
    public var team: String

    /// Makes a reader.
    public init(replica: ReplicaID?, reporter: String?, team: String) {
        self.replica = replica
        self.reporter = reporter
        self.team = team
    }

    /// A reporter of `team` who is none of the named ones: reads the team's unrestricted records.
    public static func teammate(in team: String) -> PeerReader { PeerReader(replica: nil, reporter: nil, team: team) }
}

/// Who may read which record on a device (issue 14, `TEAMS-PLAN.md`, "The rules"): the device
/// applies the server's rule from its own knowledge, to decide what a peer may be given in the
/// clear and what it may itself hold.
///
/// A record's team is its `record_access` row's (the server sent it, after a move) or else the
/// team of the replica that created it (the author of the first change its log lists), from
/// the roster; its author is that replica's reporter; it is restricted while its state's
/// `sensitivity` is `restricted` (any sibling) or its row says so. A creator the roster does not
/// name gives an unknown team: no peer reads the record.
extension Store {
    /// The field whose value `restricted` keeps a record to its author.
    static let sensitivityField = "sensitivity"
    /// The value of `sensitivity` that restricts a record.
    static let restrictedValue = JSONValue.string("restricted")

    /// Whether teams are in force here: the store pinned a server's roster key (it belongs to a
    /// server). A store without one (a scenario replay, an unenrolled device) gives everything
    /// in the clear, as before teams.
    public var teamsInForce: Bool {
        get throws(StoreError) { try rosterKey() != nil }
    }

    /// The reader `replica` is, from its roster entry (signed by the server's roster key once
    /// one is pinned); nil when the roster does not name it or it is revoked.
    public func reader(of replica: ReplicaID) throws(StoreError) -> PeerReader? {
        try read { try readerInTransaction(of: replica) }
    }

    /// This device as a reader (its own roster entry); nil until the roster names it.
    public func ownReader() throws(StoreError) -> PeerReader? { try reader(of: replica) }

    func readerInTransaction(of replica: ReplicaID) throws -> PeerReader? {
        let pinned = try metaValue(Store.rosterKeyMeta) != nil
        guard
            let entry = try db.cached("SELECT \(Store.rosterColumns) FROM roster WHERE replica = ?").bind(.blob(replica.bytes))
                .first({ try rosterEntry($0) }),
            entry.status == .active, !pinned || entry.sig != nil
        else { return nil }
        return PeerReader(replica: replica, reporter: entry.reporter, team: entry.effectiveTeam)
    }

    /// Whether `reader` may read `record` (nil reader: no one may). Always true while teams are
    /// not in force.
    public func mayRead(_ record: RecordKey, reader: PeerReader?) throws(StoreError) -> Bool {
        try read {
            guard try metaValue(Store.rosterKeyMeta) != nil else { return true }
            let resolver = try AccessResolver(store: self)
            return resolver.readable(try resolver.access(of: record, incoming: []), by: reader)
        }
    }

    /// Splits stored changes into those `reader` may be given in the clear and the rest, each in
    /// the order given. Everything is clear while teams are not in force.
    public func split(_ changes: [StoredChange], for reader: PeerReader?) throws(StoreError) -> (
        clear: [StoredChange], withheld: [StoredChange]
    ) {
        try read {
            guard try metaValue(Store.rosterKeyMeta) != nil, !changes.isEmpty else { return (changes, []) }
            let find = try db.cached("SELECT collection, record FROM changes WHERE replica = ? AND counter = ?")
            let keys = try changes.map { change -> RecordKey? in
                guard let idx = replicaIndex[change.replica] else { return nil }
                return try find.bind(.integer(idx), .integer(Int64(clamping: change.counter))).first {
                    RecordKey(collection: $0.text(0) ?? "", id: $0.text(1) ?? "")
                }
            }
            return Store.partition(changes, by: try readable(keys, by: reader))
        }
    }

    /// Splits changes (a peer's batch) into those `reader` may read and the rest, as `split`.
    public func split(_ changes: [Change], for reader: PeerReader?) throws(StoreError) -> (clear: [Change], withheld: [Change]) {
        try read {
            guard try metaValue(Store.rosterKeyMeta) != nil, !changes.isEmpty else { return (changes, []) }
            return Store.partition(changes, by: try readable(changes.map(\.record), by: reader))
        }
    }

    /// Whether `reader` may read each record (inside a transaction; nil: a change the log does
    /// not hold, read by no one), each record judged once.
    private func readable(_ keys: [RecordKey?], by reader: PeerReader?) throws -> [Bool] {
        let resolver = try AccessResolver(store: self)
        var verdicts: [RecordKey: Bool] = [:]
        return try keys.map { key in
            guard let key else { return false }
            if let known = verdicts[key] { return known }
            let verdict = resolver.readable(try resolver.access(of: key, incoming: []), by: reader)
            verdicts[key] = verdict
            return verdict
        }
    }

    /// `items` split by `flags` (same order): the true ones, then the false ones.
    private static func partition<T>(_ items: [T], by flags: [Bool]) -> (clear: [T], withheld: [T]) {
        var clear: [T] = []
        var withheld: [T] = []
        for (item, flag) in zip(items, flags) {
            if flag { clear.append(item) } else { withheld.append(item) }
        }
        return (clear, withheld)
    }

    /// The receiver guard (inside `applyRemote`'s transaction): the changes of records this
    /// device may not hold itself — a known other team's, or another reporter's restricted record,
    /// judged with the incoming changes merged in — are withheld, and whatever the log already
    /// holds of those records is forgotten. A record of unknown creator is taken (the server
    /// decides). Nothing is withheld on the server, while teams are not in force, or before the
    /// roster names this device.
    func withholdUnreadable(_ changes: [Change], trust: TrustPolicy, sealer: ParcelSealer?) throws -> (
        kept: [Change], withheld: [Change]
    ) {
        guard !trust.requireKnownAuthors, !changes.isEmpty, try metaValue(Store.rosterKeyMeta) != nil,
            let own = try readerInTransaction(of: replica)
        else { return (changes, []) }
        var incoming: [RecordKey: [Change]] = [:]
        for change in changes { incoming[change.record, default: []].append(change) }
        let resolver = try AccessResolver(store: self)
        var refused = Set<RecordKey>()
        for (key, batch) in incoming {
            let access = try resolver.access(of: key, incoming: batch)
            guard access.team != nil else { continue }
            if !resolver.readable(access, by: own) { refused.insert(key) }
        }
        guard !refused.isEmpty else { return (changes, []) }
        try forgetInTransaction(refused.sorted(), keepTeamRow: true, sealer: sealer)
        var kept: [Change] = []
        var withheld: [Change] = []
        for change in changes {
            if refused.contains(change.record) { withheld.append(change) } else { kept.append(change) }
        }
        return (kept, withheld)
    }

    /// Seals withheld changes into parcels for the server with `sealer` (to the pinned parcel
    /// key) and holds them (inside a transaction); the number of changes sealed, 0 when no parcel
    /// key is pinned or no sealer given (they are then left out: the sender still has them).
    func holdSealed(_ withheld: [Change], sealer: ParcelSealer?) throws -> Int {
        guard !withheld.isEmpty, let sealer, case .blob(let parcelKey)? = try metaValue(Store.parcelKeyMeta) else { return 0 }
        let parcels = try sealer(withheld.map { $0.encodedJSON() }, parcelKey)
        for parcel in parcels { _ = try insertParcel(parcel) }
        return withheld.count
    }

    /// Takes the server's notices of who may read records: each record's row is stored (its
    /// team sealed on an encrypted store); a record this device may no longer read is forgotten
    /// (`forget`, with `sealer`), keeping only the row, so a peer's stale copy is not taken
    /// again. Returns how many records were forgotten.
    @discardableResult
    public func applyAccessNotices(_ notices: [AccessNotice], sealer: ParcelSealer? = nil) throws(StoreError) -> Int {
        guard !notices.isEmpty else { return 0 }
        return try write {
            var forgotten: [RecordKey] = []
            for notice in notices {
                try upsertAccessRow(notice.record, team: notice.team, restricted: notice.restricted)
                if !notice.readable { forgotten.append(notice.record) }
            }
            try forgetInTransaction(forgotten, keepTeamRow: true, sealer: sealer)
            return forgotten.count
        }
    }

    /// Forgets what this device holds of records it may not read itself (by its `record_access`
    /// rows: moved to another team, or restricted to another reporter): copies a stale peer handed
    /// over, and its own changes of such records kept until the server acknowledged them. Its own
    /// changes the server still lacks stay (or go sealed with `sealer`), as in `forget`. Returns how
    /// many records it looked at.
    @discardableResult
    public func forgetWhatThisDeviceMayNotRead(sealer: ParcelSealer? = nil) throws(StoreError) -> Int {
        guard try teamsInForce, let own = try ownReader() else { return 0 }
        var candidates: [RecordKey] = []
        try read {
            try db.cached(
                """
                SELECT a.collection, a.record FROM record_access a
                WHERE EXISTS (SELECT 1 FROM records r WHERE r.collection = a.collection AND r.id = a.record)
                   OR EXISTS (SELECT 1 FROM changes c WHERE c.collection = a.collection AND c.record = a.record AND c.applied = 0)
                """
            ).forEach { candidates.append(RecordKey(collection: $0.text(0) ?? "", id: $0.text(1) ?? "")) }
        }
        var unreadable: [RecordKey] = []
        for record in candidates where try !mayRead(record, reader: own) { unreadable.append(record) }
        guard !unreadable.isEmpty else { return candidates.count }
        try write { try forgetInTransaction(unreadable, keepTeamRow: true, sealer: sealer) }
        return candidates.count
    }

    /// Forgets records entirely: their `record_access` row, every change of them in the log
    /// (held back ones too), their held-back waits, and the discarded versions kept as evidence of
    /// reused dots. `secure_delete` zeroes the freed bytes; the WAL is cut back when the command ends.
    ///
    /// This device's own changes the server has not acknowledged are work no one else may hold
    /// yet: they are sealed into a parcel for the server first (`sealer`, to the pinned parcel
    /// key); without one they stay in the log (the record then shows only this device's writes).
    public func forget(_ records: [RecordKey], sealer: ParcelSealer? = nil) throws(StoreError) {
        guard !records.isEmpty else { return }
        try write { try forgetInTransaction(records, keepTeamRow: false, sealer: sealer) }
    }

    /// `forget` inside a transaction; `keepTeamRow` keeps (or leaves) the `record_access` row.
    func forgetInTransaction(_ records: [RecordKey], keepTeamRow: Bool, sealer: ParcelSealer?) throws {
        guard !records.isEmpty else { return }
        let keys = Set(records)
        var seqs: [Int64] = []
        var unacknowledged: [(seq: Int64, change: Change)] = []
        let acked = try metaInt(Store.serverAckedCounterSetting)
        let ownIdx = replicaIndex[replica] ?? -1
        // Applied changes through the record's log (the log has no index by record), held-back
        // ones through their partial index.
        let bySlot = try db.cached("SELECT seq, \(Store.changeColumns) FROM changes WHERE replica = ? AND counter = ?")
        let heldBack = try db.cached(
            "SELECT seq, \(Store.changeColumns) FROM changes WHERE collection = ? AND record = ? AND applied = 0")
        let logOf = try db.cached("SELECT log FROM records WHERE collection = ? AND id = ?")
        func take(_ row: Row) throws {
            if row.int(3) == ownIdx && row.int(4) > acked {
                unacknowledged.append((row.int(0), try change(fromRow: row, at: 1)))
            } else {
                seqs.append(row.int(0))
            }
        }
        for key in keys.sorted() {
            let log = try logOf.bind(.text(key.collection), .text(key.id)).first { $0.text(0) } ?? nil
            for entry in (log ?? "").split(separator: " ") {
                let parts = entry.split(separator: ".")
                guard parts.count == 2, let idx = Int64(parts[0]), let counter = Int64(parts[1]) else { continue }
                try bySlot.bind(.integer(idx), .integer(counter)).forEach(take)
            }
            try heldBack.bind(.text(key.collection), .text(key.id)).forEach(take)
        }
        // Own work not yet at the server goes to it sealed, or stays (with its record's row).
        var staying = Set<RecordKey>()
        if try holdSealed(unacknowledged.map(\.change), sealer: sealer) > 0 {
            seqs += unacknowledged.map(\.seq)
        } else {
            staying = Set(unacknowledged.map(\.change.record))
        }
        // Lowers each author's contiguous counter and rebuilds the records from what is left:
        // nothing (unless own work stayed), so the row and its waits go.
        try dropChanges(seqs.sorted())
        for key in keys where !staying.contains(key) {
            try db.cached("DELETE FROM held_waits WHERE collection = ? AND record = ?").bind(.text(key.collection), .text(key.id))
                .run()
            try db.cached("DELETE FROM records WHERE collection = ? AND id = ?").bind(.text(key.collection), .text(key.id)).run()
            if !keepTeamRow {
                try db.cached("DELETE FROM record_access WHERE collection = ? AND record = ?").bind(
                    .text(key.collection), .text(key.id)
                ).run()
            }
        }
        // Discarded versions of reused dots on these records (their bodies are the record's content).
        var evidence: [String] = []
        try db.cached("SELECT key, value, typeof(value) FROM meta WHERE key >= ? AND key < ?").bind(
            .text(Store.discardedVersionMeta), .text(Store.discardedVersionMeta + "~")
        ).forEach { row in
            let name = row.text(0) ?? ""
            guard case .blob(let body) = try Store.metaValue(row, column: 1, key: name, cipher: cipher),
                let change = try? body.withUnsafeBufferPointer({ try Change(storedJSONBytes: $0) })
            else { return }
            if keys.contains(change.record) { evidence.append(name) }
        }
        for name in evidence { try db.cached("DELETE FROM meta WHERE key = ?").bind(.text(name)).run() }
    }

    /// Stores a record's access row as the server sent it (inside a transaction).
    private func upsertAccessRow(_ record: RecordKey, team: String, restricted: Bool) throws {
        try db.cached(
            """
            INSERT INTO record_access (collection, record, team, author, restricted, moved, pos) VALUES (?, ?, ?, NULL, ?, 0, 0)
            ON CONFLICT(collection, record) DO UPDATE SET team = excluded.team, restricted = excluded.restricted
            """
        ).bind(
            .text(record.collection), .text(record.id),
            try Store.storedText(team, for: .recordTeam(record), cipher: cipher), .integer(restricted ? 1 : 0)
        ).run()
    }

    /// Signs a summary file's digest with this device's key, over `"OUTPOST-SUMMARY-1\n"` and
    /// the 32-byte SHA-256 (`summaryStatement`), so a peer learns whose summary it is.
    public func signSummaryDigest(_ digest: [UInt8]) -> [UInt8] { key.signature(for: Store.summaryStatement(digest)) }

    /// What a device signs to vouch for its summary file: the prefix and the digest.
    public static func summaryStatement(_ digest: [UInt8]) -> [UInt8] { Array("OUTPOST-SUMMARY-1\n".utf8) + digest }

    /// The reader a signed summary speaks for: the roster names `replica` with `key`, and
    /// `signature` is that key's over `summaryStatement(digest)`; nil otherwise.
    public func reader(ofSummaryBy replica: ReplicaID, key: [UInt8], digest: [UInt8], signature: [UInt8]) throws(StoreError)
        -> PeerReader?
    {
        guard SignatureCheck.isValid(signature, of: Store.summaryStatement(digest), publicKey: key) else { return nil }
        let held = try read {
            try db.cached("SELECT key FROM roster WHERE replica = ?").bind(.blob(replica.bytes)).first { $0.bytes(0) }
        }
        guard held == key else { return nil }
        return try reader(of: replica)
    }
}

/// Seals change bodies (wire JSON) into parcels to the given parcel key (`Parcel.seal` in
/// OutpostSync, which the store cannot reach).
public typealias ParcelSealer = @Sendable (_ changeBodies: [[UInt8]], _ parcelKey: [UInt8]) throws -> [[UInt8]]

/// A record's team, author and whether it is restricted, as far as the store knows.
struct RecordAccess {
    /// nil: unknown (its creator is not in the roster, or the store holds no applied change of it).
    var team: String?
    var author: String?
    var restricted: Bool
}

/// Works out records' access inside one transaction, reading the roster once.
struct AccessResolver {
    let store: Store
    private var roster: [ReplicaID: RosterEntry] = [:]
    private let pinned: Bool

    init(store: Store) throws {
        self.store = store
        pinned = try store.metaValue(Store.rosterKeyMeta) != nil
        for entry in try store.rosterEntries() where !pinned || entry.sig != nil { roster[entry.replica] = entry }
    }

    /// The access of `key` with `incoming` changes (not yet applied) merged into its state.
    func access(of key: RecordKey, incoming: [Change]) throws -> RecordAccess {
        let row = try store.db.cached("SELECT team, restricted FROM record_access WHERE collection = ? AND record = ?").bind(
            .text(key.collection), .text(key.id)
        ).first { row in
            (team: try Store.openedText(row, 0, for: .recordTeam(key), cipher: store.cipher), restricted: row.int(1) != 0)
        }
        let held = try store.db.cached("SELECT state, log FROM records WHERE collection = ? AND id = ?").bind(
            .text(key.collection), .text(key.id)
        ).first { row in (state: try store.decodeState(row, column: 0, key: key), log: row.text(1) ?? "") }
        var creator: ReplicaID?
        if let first = held?.log.split(separator: " ", maxSplits: 1).first {
            let parts = first.split(separator: ".")
            if parts.count == 2, let idx = Int64(parts[0]) { creator = store.replicaByIndex[idx] }
        } else {
            // Not held yet: the first incoming change that depends on nothing of it creates it.
            creator = incoming.first(where: { $0.deps.isEmpty })?.dot.replica
        }
        var state = held?.state ?? RecordState()
        for change in incoming where state.decide(change) != .duplicate { state.apply(change) }
        let restrictedNow =
            state.fields[Store.sensitivityField]?.contains { $0.value == Store.restrictedValue } ?? false
        let entry = creator.flatMap { roster[$0] }
        return RecordAccess(
            team: row?.team ?? entry?.effectiveTeam, author: entry?.reporter,
            restricted: restrictedNow || (row?.restricted ?? false))
    }

    /// The rule: a reporter reads a record of its own team that is not restricted, or is its own.
    func readable(_ access: RecordAccess, by reader: PeerReader?) -> Bool {
        guard let reader, let team = access.team, team == reader.team else { return false }
        guard access.restricted else { return true }
        guard let author = access.author, let reporter = reader.reporter else { return false }
        return author == reporter
    }
}
