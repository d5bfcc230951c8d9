import OutpostCore

extension Store {
    /// The `meta` key of the store's 32-byte Ed25519 seed.
    static let signingKeyMeta = "signing_key"
    /// The `meta` key listing, space-separated in hex, the replica IDs this store wrote under before.
    static let previousReplicasMeta = "previous_replicas"
    /// Settings that belong to one replica ID and start again under a new one.
    static let perReplicaSettings = [serverAckedCounterSetting]

    /// The store's identity from `meta`; a store made before signatures gets its key pair now
    /// and continues under the replica ID that key gives (`trust.md`, "Changes made before
    /// signatures"), so its old unsigned work and its new signed work are both kept.
    static func loadIdentity(_ db: Database, replica: ReplicaID) throws -> (ReplicaID, DeviceKey) {
        let seed = try db.prepare("SELECT value FROM meta WHERE key = ?").bind(.text(signingKeyMeta)).first { $0.bytes(0) }
        if let seed { return (replica, try DeviceKey(seed: seed)) }
        let key = DeviceKey()
        let newReplica = key.replicaID
        try db.transaction {
            let reporter = try db.prepare("SELECT value FROM meta WHERE key = 'reporter'").first { $0.text(0) } ?? nil
            try writeIdentity(db, replica: newReplica, key: key, previous: replica, reporter: reporter ?? "")
        }
        return (newReplica, key)
    }

    /// Writes a new identity into `meta`, `replicas` and the roster (inside a transaction).
    private static func writeIdentity(_ db: Database, replica: ReplicaID, key: DeviceKey, previous: ReplicaID, reporter: String)
        throws
    {
        let upsert = try db.prepare(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        let earlier = try db.prepare("SELECT value FROM meta WHERE key = ?").bind(.text(previousReplicasMeta)).first {
            $0.text(0)
        }
        let list = [earlier ?? nil, previous.hex].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
        try upsert.bind(.text(previousReplicasMeta), .text(list)).run()
        for (k, v) in [
            ("replica", SQLValue.blob(replica.bytes)), ("counter", .integer(0)), (signingKeyMeta, .blob(key.seed)),
        ] {
            upsert.reset()
            try upsert.bind(.text(k), v).run()
        }
        for setting in perReplicaSettings {
            try db.prepare("DELETE FROM meta WHERE key = ?").bind(.text(setting)).run()
        }
        try db.prepare("INSERT OR IGNORE INTO replicas (id, reporter) VALUES (?, ?)").bind(
            .blob(replica.bytes), .text(reporter)
        ).run()
        try trustOwnKey(db, replica: replica, key: key, reporter: reporter)
    }

    /// Puts the store's own key into its roster (trusted without a server signature).
    static func trustOwnKey(_ db: Database, replica: ReplicaID, key: DeviceKey, reporter: String) throws {
        try db.prepare(
            "INSERT INTO roster (replica, key, reporter, status, version, sig) VALUES (?, ?, ?, 'active', 0, NULL) ON CONFLICT(replica) DO NOTHING"
        ).bind(.blob(replica.bytes), .blob(key.publicKey), .text(reporter)).run()
    }

    /// The replica IDs this store wrote under before its current one, oldest first.
    public func previousReplicas() throws(StoreError) -> [ReplicaID] {
        try read {
            (try metaText(Store.previousReplicasMeta) ?? "").split(separator: " ").compactMap { ReplicaID(hex: String($0)) }
        }
    }

    /// Continues under a new replica: a new key pair and a new ID (`replica`, or the key's), the
    /// change counter from 0, and the per-replica sync settings cleared. The old ID's changes stay
    /// in the log as another author's. Used when the store finds it was restored from an older copy.
    @discardableResult
    public func rotateIdentity(to replica: ReplicaID? = nil) throws(StoreError) -> ReplicaID {
        try write { try rotateIdentityInTransaction(to: replica) }
    }

    /// `rotateIdentity` inside the caller's write transaction.
    func rotateIdentityInTransaction(to chosen: ReplicaID? = nil, reissuingUnsent: Bool = true) throws -> ReplicaID {
        let key = DeviceKey()
        let newReplica = chosen ?? restoredReplicaNaming?() ?? key.replicaID
        let previous = replica
        // What of the old replica's work left this store (read before the replica changes).
        let sent = UInt64(try ownSentFloorInTransaction())
        try Store.writeIdentity(db, replica: newReplica, key: key, previous: previous, reporter: try metaText("reporter") ?? "")
        setIdentity(replica: newReplica, key: key)
        try loadReplicas()
        if reissuingUnsent { try reissueUnsent(of: previous, above: sent) }
        return newReplica
    }
}
