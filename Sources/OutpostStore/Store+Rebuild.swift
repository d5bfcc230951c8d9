import OutpostCore

extension Store {
    /// Removes changes from the log (inside a write transaction) and rebuilds their records from
    /// the changes that remain, by the same rules they were applied by: a change that depended on
    /// a removed one is held back again until its dependency arrives.
    func dropChanges(_ seqs: [Int64]) throws {
        guard !seqs.isEmpty else { return }
        var keys = Set<RecordKey>()
        var lowered: [Int64: Int64] = [:]
        let find = try db.cached("SELECT collection, record, replica, counter FROM changes WHERE seq = ?")
        let delete = try db.cached("DELETE FROM changes WHERE seq = ?")
        for seq in seqs {
            guard
                let row = try find.bind(.integer(seq)).first({
                    (key: RecordKey(collection: $0.text(0) ?? "", id: $0.text(1) ?? ""), replica: $0.int(2), counter: $0.int(3))
                })
            else { continue }
            keys.insert(row.key)
            lowered[row.replica] = min(lowered[row.replica] ?? Int64.max, row.counter - 1)
            try delete.bind(.integer(seq)).run()
        }
        for (idx, below) in lowered {
            try db.cached("UPDATE replicas SET contiguous = min(contiguous, ?) WHERE idx = ?").bind(
                .integer(below), .integer(idx)
            )
            .run()
        }
        try rebuildRecords(keys)
        // Readers holding the query indexes in memory read them again: the rebuilt records may
        // reuse the removed changes' `seq`s.
        if try QueryIndexWriter.tablesExist(db) { try QueryIndexWriter.advanceGeneration(db) }
    }

    /// Rebuilds records from their logged changes (applied ones in the order they were applied,
    /// then held ones), keeping each change's verification outcome and delivering token.
    func rebuildRecords(_ keys: Set<RecordKey>) throws {
        for key in keys.sorted() {
            var rows: [(change: Change, verified: Int64?, deliveredBy: Int64?)] = []
            let read = try db.cached(
                "SELECT seq, verified, delivered_by, \(Store.changeColumns) FROM changes WHERE collection = ? AND record = ? AND seq = ?"
            )
            // Applied changes, in the order the record's log lists them.
            let log =
                try db.cached("SELECT log FROM records WHERE collection = ? AND id = ?").bind(
                    .text(key.collection), .text(key.id)
                ).first { $0.text(0) } ?? nil
            var seqs: [Int64] = []
            let bySlot = try db.cached("SELECT seq FROM changes WHERE replica = ? AND counter = ?")
            for entry in (log ?? "").split(separator: " ") {
                let parts = entry.split(separator: ".")
                guard parts.count == 2, let idx = Int64(parts[0]), let counter = Int64(parts[1]) else { continue }
                if let seq = try bySlot.bind(.integer(idx), .integer(counter)).first({ $0.int(0) }) { seqs.append(seq) }
            }
            try db.cached("SELECT seq FROM changes WHERE collection = ? AND record = ? AND applied = 0 ORDER BY seq")
                .bind(.text(key.collection), .text(key.id)).forEach { seqs.append($0.int(0)) }
            for seq in seqs {
                if let row = try read.bind(.text(key.collection), .text(key.id), .integer(seq)).first({
                    (
                        change: try change(fromRow: $0, at: 3), verified: $0.isNull(1) ? nil : $0.int(1),
                        deliveredBy: $0.isNull(2) ? nil : $0.int(2)
                    )
                }) {
                    rows.append(row)
                }
            }
            for seq in seqs { try db.cached("DELETE FROM changes WHERE seq = ?").bind(.integer(seq)).run() }
            try db.cached("DELETE FROM held_waits WHERE collection = ? AND record = ?").bind(.text(key.collection), .text(key.id))
                .run()
            try db.cached("DELETE FROM records WHERE collection = ? AND id = ?").bind(.text(key.collection), .text(key.id)).run()
            let applier = try ChangeApplier(store: self, receivedMs: systemClock(), heldBackLimits: .unlimited)
            for row in rows {
                applier.keptVerification[row.change.dot] = .some(row.verified)
                if let by = row.deliveredBy { applier.keptDeliveredBy[row.change.dot] = by }
            }
            for row in rows { try applier.apply(row.change) }
            try applier.finish()
        }
    }
}
