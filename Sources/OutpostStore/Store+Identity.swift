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
    static func loadIdentity(_ db: Database, replica: ReplicaID, cipher: StoreCipher?) throws -> (ReplicaID, DeviceKey) {
        if let seed = try metaValue(db, signingKeyMeta, cipher: cipher) {
            guard case .blob(let bytes) = seed else { throw StoreError(.storage, "the store's signing key is damaged") }
            return (replica, try DeviceKey(seed: bytes))
        }
        let key = DeviceKey()
        let newReplica = key.replicaID
        try db.transaction {
            var reporter = ""
            if case .text(let text)? = try metaValue(db, "reporter", cipher: cipher) { reporter = text }
            try writeIdentity(db, replica: newReplica, key: key, previous: replica, reporter: reporter, cipher: cipher)
        }
        return (newReplica, key)
    }

    /// Writes a new identity into `meta`, `replicas` and the roster (inside a transaction).
    private static func writeIdentity(
        _ db: Database, replica: ReplicaID, key: DeviceKey, previous: ReplicaID, reporter: String, cipher: StoreCipher?
    ) throws {
        var earlier: String?
        if case .text(let text)? = try metaValue(db, previousReplicasMeta, cipher: cipher) { earlier = text }
        let list = [earlier, previous.hex].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
        for (k, v) in [
            (previousReplicasMeta, SQLValue.text(list)), ("replica", .blob(replica.bytes)), ("counter", .integer(0)),
            (signingKeyMeta, .blob(key.seed)),
        ] {
            try setMeta(db, k, v, cipher: cipher)
        }
        for setting in perReplicaSettings {
            try db.prepare("DELETE FROM meta WHERE key = ?").bind(.text(setting)).run()
        }
        try db.prepare("INSERT OR IGNORE INTO replicas (id, reporter) VALUES (?, ?)").bind(
            .blob(replica.bytes), try storedText(reporter, for: .replicaReporter(replica), cipher: cipher)
        ).run()
        try trustOwnKey(db, replica: replica, key: key, reporter: reporter, cipher: cipher)
    }

    /// Puts the store's own key into its roster (trusted without a server signature).
    static func trustOwnKey(_ db: Database, replica: ReplicaID, key: DeviceKey, reporter: String, cipher: StoreCipher?) throws {
        try db.prepare(
            "INSERT INTO roster (replica, key, reporter, status, version, sig) VALUES (?, ?, ?, 'active', 0, NULL) ON CONFLICT(replica) DO NOTHING"
        ).bind(
            .blob(replica.bytes), .blob(key.publicKey), try storedText(reporter, for: .rosterReporter(replica), cipher: cipher)
        )
        .run()
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
        try Store.writeIdentity(
            db, replica: newReplica, key: key, previous: previous, reporter: try metaText("reporter") ?? "", cipher: cipher)
        setIdentity(replica: newReplica, key: key)
        try loadReplicas()
        if reissuingUnsent { try reissueUnsent(of: previous, above: sent) }
        return newReplica
    }
}
