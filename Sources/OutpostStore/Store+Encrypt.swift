import Foundation
import OutpostCore

extension Store {
    /// Seals every value of a plaintext store (one made before Outpost encrypted stores) under
    /// `cipher`, in place and in one transaction, keeping its replica, key, log and settings:
    /// change bodies, record states, reporter names, roster names and signatures, and every text
    /// or blob setting, exactly as an encrypted store holds them. Then the WAL is truncated and
    /// the file vacuumed, so no page of plaintext is left in the store's files (`secure_delete`
    /// zeroes the old cells). A crash leaves the store as it was, plaintext and whole.
    ///
    /// Returns how many values were sealed. An encrypted store is refused (`.invalidState`).
    @discardableResult
    public static func encryptInPlace(at directory: String, cipher: StoreCipher) throws(StoreError) -> Int {
        let store = try Store.open(at: directory)
        guard !store.isEncrypted else {
            throw StoreError(.invalidState, "the store at \(directory) is already encrypted; nothing was changed")
        }
        // Through the WAL, not a rollback journal: the plaintext pages are overwritten in place at
        // the checkpoint, never copied into a journal file that is merely unlinked.
        let sealed = try store.write { () throws -> Int in
            let db = store.db
            var count = 0
            // Change bodies, bound to their record and dot.
            var bodies: [(Int64, [UInt8])] = []
            try db.prepare(
                "SELECT c.seq, c.collection, c.record, r.id, c.counter, c.body FROM changes c JOIN replicas r ON r.idx = c.replica"
            ).forEach { row in
                let place = SealedPlace.changeBody(
                    RecordKey(collection: row.text(1) ?? "", id: row.text(2) ?? ""),
                    Dot(replica: ReplicaID(bytes: row.bytes(3)), counter: UInt64(max(0, row.int(4)))))
                bodies.append((row.int(0), try cipher.sealed(row.bytes(5), for: place)))
            }
            let updateBody = try db.prepare("UPDATE changes SET body = ? WHERE seq = ?")
            for (seq, body) in bodies {
                updateBody.reset()
                try updateBody.bind(.blob(body), .integer(seq)).run()
            }
            count += bodies.count
            bodies = []
            // Record states.
            var states: [(Int64, [UInt8])] = []
            try db.prepare("SELECT rowid, collection, id, state FROM records").forEach { row in
                let place = SealedPlace.recordState(RecordKey(collection: row.text(1) ?? "", id: row.text(2) ?? ""))
                states.append((row.int(0), try cipher.sealed(row.bytes(3), for: place)))
            }
            let updateState = try db.prepare("UPDATE records SET state = ? WHERE rowid = ?")
            for (rowid, state) in states {
                updateState.reset()
                try updateState.bind(.blob(state), .integer(rowid)).run()
            }
            count += states.count
            // Reporter names of replicas.
            var names: [(Int64, SQLValue)] = []
            try db.prepare("SELECT idx, id, reporter FROM replicas WHERE reporter IS NOT NULL").forEach { row in
                let place = SealedPlace.replicaReporter(ReplicaID(bytes: row.bytes(1)))
                names.append((row.int(0), try Store.storedText(row.text(2), for: place, cipher: cipher)))
            }
            let updateName = try db.prepare("UPDATE replicas SET reporter = ? WHERE idx = ?")
            for (idx, name) in names {
                updateName.reset()
                try updateName.bind(name, .integer(idx)).run()
            }
            count += names.count
            // Roster names, teams and signatures.
            var roster: [([UInt8], SQLValue, SQLValue, SQLValue)] = []
            try db.prepare("SELECT replica, reporter, sig, team FROM roster").forEach { row in
                let replica = ReplicaID(bytes: row.bytes(0))
                let signature = row.isNull(2) ? nil : row.bytes(2)
                roster.append(
                    (
                        row.bytes(0), try Store.storedText(row.text(1), for: .rosterReporter(replica), cipher: cipher),
                        try Store.storedBytes(signature, for: .rosterSignature(replica), cipher: cipher),
                        try Store.storedText(row.text(3), for: .rosterTeam(replica), cipher: cipher)
                    ))
            }
            let updateRoster = try db.prepare("UPDATE roster SET reporter = ?, sig = ?, team = ? WHERE replica = ?")
            for (replica, name, signature, team) in roster {
                updateRoster.reset()
                try updateRoster.bind(name, signature, team, .blob(replica)).run()
            }
            count += roster.count
            // Teams of moved records the server named.
            var teams: [(String, String, SQLValue)] = []
            try db.prepare("SELECT collection, record, team FROM record_access").forEach { row in
                let key = RecordKey(collection: row.text(0) ?? "", id: row.text(1) ?? "")
                teams.append((key.collection, key.id, try Store.storedText(row.text(2), for: .recordTeam(key), cipher: cipher)))
            }
            let updateTeam = try db.prepare("UPDATE record_access SET team = ? WHERE collection = ? AND record = ?")
            for (collection, record, team) in teams {
                updateTeam.reset()
                try updateTeam.bind(team, .text(collection), .text(record)).run()
            }
            count += teams.count
            // Settings: every text or blob value but the few that stay in the clear.
            var settings: [(String, SQLValue)] = []
            try db.prepare("SELECT key, value, typeof(value) FROM meta").forEach { row in
                let key = row.text(0) ?? ""
                let value = try Store.metaValue(row, column: 1, key: key, cipher: nil)
                let stored = try Store.storedMetaValue(value, key: key, cipher: cipher)
                if stored != value { settings.append((key, stored)) }
            }
            let updateSetting = try db.prepare("UPDATE meta SET value = ? WHERE key = ?")
            for (key, value) in settings {
                updateSetting.reset()
                try updateSetting.bind(value, .text(key)).run()
            }
            count += settings.count
            // Last, the marks that make it an encrypted store.
            try Store.setMeta(db, cipherMeta, .text(StoreCipher.formatName), cipher: nil)
            try Store.setMeta(db, keyCheckMeta, .blob(try cipher.sealed(keyCheckValue, for: .meta(keyCheckMeta))), cipher: nil)
            return count
        }
        do {
            try store.db.execute("VACUUM")
        } catch {
            throw StoreError.wrap(error)
        }
        try store.checkpointAndTruncate(waitMilliseconds: 5_000)
        return sealed
    }
}
