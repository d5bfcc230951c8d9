import OutpostCore

/// What taking a roster did.
public struct RosterUpdate: Hashable, Sendable {
    /// Entries stored or raised to a newer version.
    public var accepted = 0
    /// Entries left out: a bad server signature, a key that does not give the replica, or no newer version.
    public var ignored = 0
    /// Unverified changes whose author the new entries name and whose signature then verified.
    public var verified = 0
    /// Unverified changes whose signature failed once their author was known: dropped.
    public var dropped: [RefusedChange] = []

    /// An empty update.
    public init() {}
}

/// A roster problem the caller must see (a different roster key than the pinned one).
extension Store {
    /// The `meta` key of the pinned server roster key.
    static let rosterKeyMeta = "roster_key"

    /// The server's roster key this store pinned (nil until its first server sync or `pinRosterKey`).
    public func rosterKey() throws(StoreError) -> [UInt8]? {
        try read {
            if case .blob(let key)? = try metaValue(Store.rosterKeyMeta) { return key }
            return nil
        }
    }

    /// Pins the server's roster key; refuses to replace a different pinned key.
    public func pinRosterKey(_ key: [UInt8]) throws(StoreError) {
        try write { try pinRosterKeyInTransaction(key) }
    }

    private func pinRosterKeyInTransaction(_ key: [UInt8]) throws {
        guard key.count == 32 else { throw StoreError(.invalidValue, "a roster key is a 32-byte Ed25519 public key") }
        if case .blob(let pinned)? = try metaValue(Store.rosterKeyMeta) {
            guard pinned == key else {
                throw StoreError(
                    .invalidState,
                    "the server's roster key \(Base64URL.encode(key)) is not the one this device pinned (\(Base64URL.encode(pinned))); this is another server, or someone is impersonating it. Nothing was changed"
                )
            }
            return
        }
        try setMeta(Store.rosterKeyMeta, .blob(key))
    }

    /// Every roster entry this store holds, by replica bytes.
    public func roster() throws(StoreError) -> [RosterEntry] {
        try read { try rosterEntries() }
    }

    func rosterEntries() throws -> [RosterEntry] {
        var out: [RosterEntry] = []
        try db.cached("SELECT \(Store.rosterColumns) FROM roster ORDER BY replica").forEach { out.append(try rosterEntry($0)) }
        return out
    }

    /// The roster columns `rosterEntry(_:)` reads, in its order.
    static let rosterColumns = "replica, key, reporter, status, version, sig, team"

    /// A roster row selected as `rosterColumns` (its reporter and signature opened when sealed).
    func rosterEntry(_ row: Row) throws -> RosterEntry {
        let replica = ReplicaID(bytes: row.bytes(0))
        var entry = RosterEntry(
            replica: replica, key: row.bytes(1),
            reporter: try Store.openedText(row, 2, for: .rosterReporter(replica), cipher: cipher) ?? "",
            status: RosterEntry.Status(rawValue: row.text(3) ?? "") ?? .revoked, version: UInt64(max(0, row.int(4))),
            sig: try Store.openedBytes(row, 5, for: .rosterSignature(replica), cipher: cipher))
        entry.team = try Store.openedText(row, 6, for: .rosterTeam(replica), cipher: cipher)
        return entry
    }

    /// Writes an entry over the replica's row (inside a transaction; the caller checked the key).
    func upsertRosterEntry(_ entry: RosterEntry) throws {
        try db.cached(
            """
            INSERT INTO roster (replica, key, reporter, status, version, sig, team) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(replica) DO UPDATE SET reporter = excluded.reporter, status = excluded.status,
              version = excluded.version, sig = excluded.sig, team = excluded.team
            """
        ).bind(
            .blob(entry.replica.bytes), .blob(entry.key),
            try Store.storedText(entry.reporter, for: .rosterReporter(entry.replica), cipher: cipher),
            .text(entry.status.rawValue),
            .integer(Int64(clamping: entry.version)),
            try Store.storedBytes(entry.sig, for: .rosterSignature(entry.replica), cipher: cipher),
            try Store.storedText(entry.team, for: .rosterTeam(entry.replica), cipher: cipher)
        ).run()
    }

    /// The highest roster version this store holds (what it asks the server for more than).
    public func rosterVersion() throws(StoreError) -> UInt64 {
        try read { UInt64(max(0, try db.cached("SELECT coalesce(max(version), 0) FROM roster").first { $0.int(0) } ?? 0)) }
    }

    /// Replica → (key, status) for verification.
    func rosterKeys() throws -> [ReplicaID: (key: [UInt8], status: RosterEntry.Status)] {
        var out: [ReplicaID: (key: [UInt8], status: RosterEntry.Status)] = [:]
        try db.cached("SELECT replica, key, status FROM roster").forEach { row in
            out[ReplicaID(bytes: row.bytes(0))] = (row.bytes(1), RosterEntry.Status(rawValue: row.text(2) ?? "") ?? .revoked)
        }
        return out
    }

    /// Takes roster entries signed by the server's roster key (from a server sync, a bundle or a
    /// peer). `rosterKey`, when given, is pinned if none is yet (the first server sync) and must
    /// match the pinned one otherwise; entries are checked against the pinned key, and each
    /// replica keeps its highest verified version. Unverified changes of newly known authors are
    /// verified now: those that fail are dropped and reported.
    @discardableResult
    public func acceptRoster(_ entries: [RosterEntry], rosterKey: [UInt8]? = nil) throws(StoreError) -> RosterUpdate {
        try write {
            if let rosterKey { try pinRosterKeyInTransaction(rosterKey) }
            var update = RosterUpdate()
            guard case .blob(let pinned)? = try metaValue(Store.rosterKeyMeta) else {
                // No server key to check them against: a peer's word is not enough.
                update.ignored = entries.count
                return update
            }
            var named: [ReplicaID] = []
            for entry in entries {
                guard entry.isValid(rosterPublicKey: pinned), try storeRosterEntry(entry) else {
                    update.ignored += 1
                    continue
                }
                update.accepted += 1
                named.append(entry.replica)
            }
            try verifyUnverified(of: named, into: &update)
            return update
        }
    }

    /// Trusts entries without a server signature: the server's own roster (it signs them
    /// itself), and scenario replicas, which know each other's keys. Each replica keeps its
    /// highest version; unverified changes of the named authors are verified as in `acceptRoster`.
    @discardableResult
    public func trust(_ entries: [RosterEntry]) throws(StoreError) -> RosterUpdate {
        try write {
            var update = RosterUpdate()
            var named: [ReplicaID] = []
            for entry in entries {
                if try storeRosterEntry(entry, allowSameVersion: true) {
                    update.accepted += 1
                    named.append(entry.replica)
                } else {
                    update.ignored += 1
                }
            }
            try verifyUnverified(of: named, into: &update)
            return update
        }
    }

    /// Stores an entry when its version is above the held one's (or equal, with `allowSameVersion`);
    /// whether it was stored. A replica's key never changes: an entry with another key is ignored.
    private func storeRosterEntry(_ entry: RosterEntry, allowSameVersion: Bool = false) throws -> Bool {
        let held = try db.cached("SELECT key, version FROM roster WHERE replica = ?").bind(.blob(entry.replica.bytes)).first {
            (key: $0.bytes(0), version: $0.int(1))
        }
        if let held {
            guard held.key == entry.key else { return false }
            let version = Int64(clamping: entry.version)
            guard version > held.version || (allowSameVersion && version == held.version) else { return false }
        }
        try upsertRosterEntry(entry)
        return true
    }

    /// Verifies the unverified changes of `authors` against their (now known) keys: marks the
    /// good ones verified, drops the bad ones and rebuilds their records.
    private func verifyUnverified(of authors: [ReplicaID], into update: inout RosterUpdate) throws {
        guard !authors.isEmpty else { return }
        let keys = try rosterKeys()
        var bad: [(seq: Int64, change: Change)] = []
        for author in authors {
            guard let idx = replicaIndex[author], let key = keys[author]?.key else { continue }
            var rows: [(seq: Int64, change: Change)] = []
            try db.cached("SELECT seq, \(Store.changeColumns) FROM changes WHERE replica = ? AND verified IS NULL").bind(
                .integer(idx)
            ).forEach { row in
                rows.append((row.int(0), try change(fromRow: row, at: 1)))
            }
            let results = SignatureCheck.check(rows.map(\.change)) { _ in key }
            let mark = try db.cached("UPDATE changes SET verified = 1 WHERE seq = ?")
            for (i, row) in rows.enumerated() {
                if results[i] == true {
                    try mark.bind(.integer(row.seq)).run()
                    update.verified += 1
                } else {
                    bad.append(row)
                }
            }
        }
        guard !bad.isEmpty else { return }
        update.dropped = bad.map { RefusedChange(dot: $0.change.dot, record: $0.change.record, reason: .badSignature) }
        try dropChanges(bad.map(\.seq))
    }
}
