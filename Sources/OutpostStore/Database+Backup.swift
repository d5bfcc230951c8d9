import CSQLite

extension Database {
    /// How many times a backup retries a step that found the source or destination busy
    /// (each try first waits out the connection's busy timeout).
    static let backupBusyRetries = 20

    /// Copies this connection's database into the (new or empty) database file at `path` with
    /// SQLite's online backup, in one step: one consistent snapshot, taken while other
    /// connections and processes go on writing (in WAL mode they are not held up).
    public func backup(to path: String) throws(SQLiteError) {
        var opened: OpaquePointer?
        let openCode = sqlite3_open_v2(path, &opened, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil)
        guard openCode == SQLITE_OK, let destination = opened else {
            let message = opened.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let opened { sqlite3_close_v2(opened) }
            throw SQLiteError(code: openCode, message: "\(message): \(path)")
        }
        defer { sqlite3_close_v2(destination) }
        sqlite3_extended_result_codes(destination, 1)
        sqlite3_busy_timeout(destination, 5_000)
        guard let backup = sqlite3_backup_init(destination, "main", handle, "main") else {
            throw SQLiteError(
                code: sqlite3_extended_errcode(destination),
                message: "cannot start the backup to \(path): \(String(cString: sqlite3_errmsg(destination)))")
        }
        var stepCode = SQLITE_OK
        for _ in 0...Self.backupBusyRetries {
            // -1: every page in this one step, under one read transaction of the source.
            stepCode = sqlite3_backup_step(backup, -1)
            let primary = stepCode & 0xFF
            guard primary == SQLITE_BUSY || primary == SQLITE_LOCKED else { break }
            sqlite3_sleep(100)
        }
        // `finish` reports the step's failure too (and is needed either way to free the backup).
        let finishCode = sqlite3_backup_finish(backup)
        guard stepCode == SQLITE_DONE, finishCode == SQLITE_OK else {
            let code = stepCode == SQLITE_DONE ? finishCode : stepCode
            throw SQLiteError(
                code: code, message: "the backup to \(path) failed: \(String(cString: sqlite3_errmsg(destination)))")
        }
    }
}
