import OutpostCore

/// The analysts' server-held replicas (`analyst_replicas`, schema 8): an analyst's review in the
/// web workspace is a change signed by a replica of their own, whose key the server keeps.
extension Store {
    /// Makes the next change of `reporter`'s analyst replica: `writes` to `record` with `deps`,
    /// the replica's next counter and hybrid clock tag (both persisted before it returns), signed
    /// over its canonical bytes. On the analyst's first change the replica is made: an Ed25519
    /// key, the replica ID its public key gives, and a roster entry signed by `rosterKey` naming
    /// `reporter` in `team` (the team their reviews count under in the roster; it decides no
    /// access, since access follows a record's creator); a revoked one is replaced by a new one.
    /// The change is not applied here.
    public func makeAnalystChange(
        reporter: String, team: String, record: RecordKey, deps: VersionVector, writes: [String: JSONValue],
        rosterKey: DeviceKey
    ) throws(StoreError) -> Change {
        let seed = try write { () throws -> [UInt8] in
            if let held = try db.cached("SELECT private_key FROM analyst_replicas WHERE reporter = ?").bind(.text(reporter))
                .first({ $0.bytes(0) })
            {
                return held
            }
            let key = DeviceKey()
            try db.cached("INSERT INTO analyst_replicas (reporter, replica, private_key) VALUES (?, ?, ?)")
                .bind(.text(reporter), .blob(key.replicaID.bytes), .blob(key.seed)).run()
            return key.seed
        }
        let key = try DeviceKey(seed: seed)
        let entry = try signedRosterEntry(of: key.replicaID)
        if entry?.status == .revoked {
            // Revoked with the analyst's tokens (`outpost-server revoke`): a re-enrolled analyst
            // continues under a new replica; the old one's changes stay, attributed to it.
            try write { try db.cached("DELETE FROM analyst_replicas WHERE reporter = ?").bind(.text(reporter)).run() }
            return try makeAnalystChange(
                reporter: reporter, team: team, record: record, deps: deps, writes: writes, rosterKey: rosterKey)
        }
        if entry == nil {
            try raiseRosterEntry(
                replica: key.replicaID, key: key.publicKey, reporter: reporter, team: team, status: .active,
                signedBy: rosterKey)
        }
        let wallMs = systemClock()
        let change = try write { () throws -> Change in
            guard
                let (counter, ms, seq) = try db.cached(
                    "SELECT counter, clock_ms, clock_seq FROM analyst_replicas WHERE reporter = ?"
                ).bind(.text(reporter)).first({ ($0.int(0), $0.int(1), $0.int(2)) })
            else { throw StoreError(.invalidState, "the analyst replica of \(reporter) vanished") }
            guard counter < Change.counterRange.upperBound else {
                throw StoreError(.invalidState, "the analyst replica of \(reporter) has used every counter")
            }
            var clock = HybridClock(last: HLCTag(ms: ms, seq: UInt32(truncatingIfNeeded: seq)))
            let tag = clock.next(wallMs: wallMs)
            try db.cached("UPDATE analyst_replicas SET counter = ?, clock_ms = ?, clock_seq = ? WHERE reporter = ?")
                .bind(.integer(counter + 1), .integer(tag.ms), .integer(Int64(tag.seq)), .text(reporter)).run()
            return Change(
                dot: Dot(replica: key.replicaID, counter: UInt64(counter + 1)), record: record, deps: deps, tag: tag,
                writes: writes, reporter: reporter)
        }
        return key.signed(change)
    }

    /// The replica of `reporter`'s analyst key, nil before their first review.
    public func analystReplica(of reporter: String) throws(StoreError) -> ReplicaID? {
        try read {
            try db.cached("SELECT replica FROM analyst_replicas WHERE reporter = ?").bind(.text(reporter))
                .first { ReplicaID(bytes: $0.bytes(0)) }
        }
    }
}
