import CSQLite

/// One SQLite connection. Owns the C handle and closes it in `deinit`.
///
/// Not thread-safe by itself: `Store` serialises every use behind its lock.
public final class Database {
    let handle: OpaquePointer
    private var statementCache: [String: Statement] = [:]
    /// The file this connection opened.
    public let path: String

    /// Opens (and with `create`, creates) the database at `path`.
    public init(path: String, create: Bool) throws(SQLiteError) {
        var db: OpaquePointer?
        var flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX
        if create { flags |= SQLITE_OPEN_CREATE }
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc, message: "\(message): \(path)")
        }
        handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
    }

    deinit {
        statementCache.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws(SQLiteError) {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if rc != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? lastMessage
            sqlite3_free(errorMessage)
            throw SQLiteError(code: rc, message: message, sql: sql)
        }
    }

    /// A prepared statement, reused across calls with the same SQL.
    public func cached(_ sql: String) throws(SQLiteError) -> Statement {
        if let statement = statementCache[sql] {
            statement.reset()
            return statement
        }
        let statement = try prepare(sql)
        statementCache[sql] = statement
        return statement
    }

    /// A new prepared statement.
    public func prepare(_ sql: String) throws(SQLiteError) -> Statement {
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw SQLiteError(code: rc, message: lastMessage, sql: sql) }
        return Statement(handle: stmt, database: self, sql: sql)
    }

    /// Runs `body` in a transaction (`BEGIN IMMEDIATE`): committed when it returns, rolled back when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Rows changed by the last statement.
    public var changes: Int { Int(sqlite3_changes(handle)) }

    /// The rowid of the last insert.
    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Leaves the WAL in place when the connection closes instead of checkpointing it then.
    ///
    /// Durability is unchanged (every commit is in the synced WAL); closing no longer copies the
    /// WAL into the database file and syncs both, which short-lived processes paid for every time.
    public func keepWALOnClose() throws(SQLiteError) {
        let rc = outpost_sqlite_no_checkpoint_on_close(handle)
        if rc != SQLITE_OK { throw error(rc, sql: nil) }
    }

    /// The journal modes a store switches between.
    public enum JournalMode: String, Sendable {
        /// Write-ahead log: readers go on while a transaction writes.
        case wal
        /// Rollback journal, deleted at commit: pages that existed are copied before they change.
        case delete
    }

    /// Sets the journal mode; false when SQLite kept the old one (leaving WAL mode needs the
    /// only connection to the database) or could not switch.
    public func setJournalMode(_ mode: JournalMode) -> Bool {
        let current = try? prepare("PRAGMA journal_mode = \(mode.rawValue)").first { $0.text(0) }
        return current??.lowercased() == mode.rawValue
    }

    /// Waits up to `milliseconds` for another connection's lock before failing as busy.
    public func setBusyTimeout(milliseconds: Int32) { sqlite3_busy_timeout(handle, milliseconds) }

    var lastMessage: String { String(cString: sqlite3_errmsg(handle)) }

    func error(_ code: Int32, sql: String?) -> SQLiteError {
        SQLiteError(code: code, message: lastMessage, sql: sql)
    }
}
