import Foundation

extension Store {
    /// The `meta` keys holding secrets that `destroyKeyMaterial` overwrites: the signing key and
    /// the server token.
    static let secretMetaKeys = [signingKeyMeta, "server_token"]

    /// Copies the WAL into the database file and truncates it to zero bytes, so page images of
    /// deleted or overwritten rows do not linger in it; true when it was done, false when another
    /// process still used the store (it does the same when its command ends).
    ///
    /// Waits at most `waitMilliseconds` for other connections, then restores the usual wait.
    @discardableResult
    public func checkpointAndTruncate(waitMilliseconds: Int32 = 250) throws(StoreError) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        db.setBusyTimeout(milliseconds: waitMilliseconds)
        defer { db.setBusyTimeout(milliseconds: 5_000) }
        do {
            // One row: busy (1 when it could not finish), WAL frames, frames checkpointed.
            let busy = try db.prepare("PRAGMA wal_checkpoint(TRUNCATE)").first { $0.int(0) }
            return busy == 0
        } catch {
            // SQLITE_BUSY: another connection holds the store; its own end checkpoints.
            if let sqlite = error as? SQLiteError, sqlite.code & 0xff == 5 { return false }
            throw StoreError.wrap(error)
        }
    }

    /// How many of this store's own changes have not reached any other replica: those above both
    /// the server's acknowledgement and the highest one that left by any road (`ownCounterSent`).
    public func unsharedOwnChangeCount() throws(StoreError) -> Int64 {
        try read { max(0, try metaInt("counter") - (try ownSentFloorInTransaction())) }
    }

    /// Overwrites the signing key and the server token with random bytes of the same length in
    /// one transaction, then checkpoints and truncates the WAL, so neither survives in any file of
    /// the store. The store cannot sign or sync afterwards; `wipe` destroys its files next.
    /// Returns the keys it overwrote.
    @discardableResult
    public func destroyKeyMaterial() throws(StoreError) -> [String] {
        let destroyed = try write {
            var destroyed: [String] = []
            let read = try db.prepare("SELECT length(value) FROM meta WHERE key = ?")
            let overwrite = try db.prepare("UPDATE meta SET value = ? WHERE key = ?")
            for key in Store.secretMetaKeys {
                read.reset()
                guard let length = try read.bind(.text(key)).first({ $0.int(0) }) else { continue }
                overwrite.reset()
                try overwrite.bind(.blob(Shredder.randomBytes(max(32, Int(length)))), .text(key)).run()
                destroyed.append(key)
            }
            return destroyed
        }
        try checkpointAndTruncate(waitMilliseconds: 5_000)
        return destroyed
    }

    /// Whether a file in a store folder belongs to the store: its database and the files SQLite
    /// and `create` make beside it (`-wal`, `-shm`, `-journal`, `.init-PID`).
    public static func isStoreFile(named name: String) -> Bool {
        name.hasPrefix(fileName) || name.hasPrefix(Keyfile.fileName) || name == "outpost.agent"
    }
}
