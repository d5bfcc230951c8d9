import OutpostCore

/// Where a held change came from, as the server records it.
public struct ChangeProvenance: Hashable, Sendable {
    /// True when its signature was checked against a known key, nil while its author is unknown,
    /// false for a change made before signatures.
    public var verified: Bool?
    /// The server token (`server_tokens.id`) whose sync delivered it; nil elsewhere.
    public var deliveredBy: Int64?

    /// Makes one.
    public init(verified: Bool?, deliveredBy: Int64?) {
        self.verified = verified
        self.deliveredBy = deliveredBy
    }
}

/// The server's side of the roster: its roster key, entries it signs, the security log, and the
/// log lookups a pull position is checked with (`trust.md`, "Device keys and the roster").
extension Store {
    /// The `meta` key of the server's roster signing key (a 32-byte Ed25519 seed).
    static let rosterSigningKeyMeta = "roster_signing_key"

    /// The server's roster signing key, made once and kept in this store.
    public func serverRosterKey() throws(StoreError) -> DeviceKey {
        let seed = try write { () throws -> [UInt8] in
            if case .blob(let seed)? = try metaValue(Store.rosterSigningKeyMeta) { return seed }
            let key = DeviceKey()
            try setMeta(Store.rosterSigningKeyMeta, .blob(key.seed))
            return key.seed
        }
        return try DeviceKey(seed: seed)
    }

    /// Stores `replica`'s entry signed by `rosterKey` under a version above every version held
    /// (so a device that asks for entries newer than its highest gets it); one transaction.
    /// A replica whose held entry has another key is refused: a replica's key never changes.
    @discardableResult
    public func raiseRosterEntry(
        replica: ReplicaID, key: [UInt8], reporter: String, team: String? = nil, status: RosterEntry.Status,
        signedBy rosterKey: DeviceKey
    ) throws(StoreError) -> RosterEntry {
        try write {
            if let held = try db.cached("SELECT key FROM roster WHERE replica = ?").bind(.blob(replica.bytes)).first({
                $0.bytes(0)
            }), held != key {
                throw StoreError(.invalidState, "replica \(replica.hex) is enrolled with another key")
            }
            let top = try db.cached("SELECT coalesce(max(version), 0) FROM roster").first { $0.int(0) } ?? 0
            let entry = RosterEntry(
                replica: replica, key: key, reporter: reporter, team: team, status: status, version: UInt64(max(0, top)) + 1
            ).signed(by: rosterKey)
            try upsertRosterEntry(entry)
            return entry
        }
    }

    /// The roster entries signed by the server with a version above `version`, by version.
    public func signedRoster(after version: UInt64 = 0) throws(StoreError) -> [RosterEntry] {
        try read {
            var out: [RosterEntry] = []
            try db.cached(
                "SELECT \(Store.rosterColumns) FROM roster WHERE version > ? AND sig IS NOT NULL ORDER BY version"
            ).bind(.integer(Int64(clamping: version))).forEach { out.append(try rosterEntry($0)) }
            return out
        }
    }

    /// The entry the server signed for `replica`, nil when it has none.
    public func signedRosterEntry(of replica: ReplicaID) throws(StoreError) -> RosterEntry? {
        try read {
            try db.cached("SELECT \(Store.rosterColumns) FROM roster WHERE replica = ? AND sig IS NOT NULL")
                .bind(.blob(replica.bytes)).first { try rosterEntry($0) }
        }
    }

    /// Records an event the operator must see (`security_events`): a refused change, say.
    public func recordSecurityEvent(kind: String, token: Int64?, detail: String) throws(StoreError) {
        try write {
            try db.cached("INSERT INTO security_events (ms, kind, token, detail) VALUES (?, ?, ?, ?)").bind(
                .integer(systemClock()), .text(kind), token.map { SQLValue.integer($0) } ?? .null, .text(detail)
            ).run()
        }
    }

    /// Every security event, oldest first: (ms, kind, token, detail).
    public func securityEvents() throws(StoreError) -> [(ms: Int64, kind: String, token: Int64?, detail: String)] {
        try read {
            var out: [(ms: Int64, kind: String, token: Int64?, detail: String)] = []
            try db.cached("SELECT ms, kind, token, detail FROM security_events ORDER BY id").forEach { row in
                out.append((row.int(0), row.text(1) ?? "", row.isNull(2) ? nil : row.int(2), row.text(3) ?? ""))
            }
            return out
        }
    }

    /// The dot of the change at log position `seq`, nil when no change is there.
    public func dot(atSeq seq: Int64) throws(StoreError) -> Dot? {
        try read {
            try db.cached("SELECT r.id, c.counter FROM changes c JOIN replicas r ON r.idx = c.replica WHERE c.seq = ?")
                .bind(.integer(seq)).first { Dot(replica: ReplicaID(bytes: $0.bytes(0)), counter: UInt64(max(0, $0.int(1)))) }
        }
    }

    /// The log position of the change `dot`, nil when the store does not hold it.
    public func seq(of dot: Dot) throws(StoreError) -> Int64? {
        try read {
            try db.cached("SELECT c.seq FROM changes c JOIN replicas r ON r.idx = c.replica WHERE r.id = ? AND c.counter = ?")
                .bind(.blob(dot.replica.bytes), .integer(Int64(clamping: dot.counter))).first { $0.int(0) }
        }
    }

    /// Whether each held change of `dots` verified and which token delivered it.
    public func provenance(of dots: [Dot]) throws(StoreError) -> [Dot: ChangeProvenance] {
        try read {
            var out: [Dot: ChangeProvenance] = [:]
            let statement = try db.cached(
                "SELECT c.verified, c.delivered_by FROM changes c JOIN replicas r ON r.idx = c.replica WHERE r.id = ? AND c.counter = ?"
            )
            for dot in dots {
                try statement.bind(.blob(dot.replica.bytes), .integer(Int64(clamping: dot.counter))).forEach { row in
                    out[dot] = ChangeProvenance(
                        verified: row.isNull(0) ? nil : row.int(0) != 0, deliveredBy: row.isNull(1) ? nil : row.int(1))
                }
            }
            return out
        }
    }
}
