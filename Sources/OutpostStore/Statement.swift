import CSQLite

/// A prepared statement. Owns the C handle and finalizes it in `deinit`.
public final class Statement {
    private let handle: OpaquePointer
    private unowned let database: Database
    /// The statement's SQL.
    public let sql: String

    init(handle: OpaquePointer, database: Database, sql: String) {
        self.handle = handle
        self.database = database
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    /// Resets the statement and clears its bindings.
    public func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    /// Binds values to parameters 1, 2, 3, …
    @discardableResult
    public func bind(_ values: SQLValue...) throws(SQLiteError) -> Statement {
        try bind(values)
    }

    /// Binds an array of values to parameters 1, 2, 3, …
    @discardableResult
    public func bind(_ values: [SQLValue]) throws(SQLiteError) -> Statement {
        for (i, value) in values.enumerated() { try bind(value, at: Int32(i + 1)) }
        return self
    }

    /// Binds one value to the 1-based parameter `index`.
    public func bind(_ value: SQLValue, at index: Int32) throws(SQLiteError) {
        let rc: Int32
        switch value {
        case .null: rc = sqlite3_bind_null(handle, index)
        case .integer(let i): rc = sqlite3_bind_int64(handle, index, i)
        case .real(let d): rc = sqlite3_bind_double(handle, index, d)
        case .text(let s): rc = sqlite3_bind_text(handle, index, s, Int32(s.utf8.count), outpost_sqlite_transient())
        case .blob(let b):
            rc = b.withUnsafeBytes { raw in
                sqlite3_bind_blob(handle, index, raw.baseAddress, Int32(raw.count), outpost_sqlite_transient())
            }
        }
        if rc != SQLITE_OK { throw database.error(rc, sql: sql) }
    }

    /// Binds bytes as a blob to the 1-based parameter `index` (SQLite copies them).
    public func bindBlob(_ bytes: UnsafeRawBufferPointer, at index: Int32) throws(SQLiteError) {
        // An empty buffer may have no base address; SQLite would bind that as NULL.
        let rc =
            bytes.isEmpty
            ? sqlite3_bind_zeroblob(handle, index, 0)
            : sqlite3_bind_blob(handle, index, bytes.baseAddress, Int32(bytes.count), outpost_sqlite_transient())
        if rc != SQLITE_OK { throw database.error(rc, sql: sql) }
    }

    /// Binds UTF-8 bytes as text to the 1-based parameter `index` (no String made on the way).
    public func bindText(utf8 bytes: [UInt8], at index: Int32) throws(SQLiteError) {
        if bytes.isEmpty { return try bind(.text(""), at: index) }
        let rc = bytes.withUnsafeBufferPointer { raw in
            raw.baseAddress!.withMemoryRebound(to: CChar.self, capacity: raw.count) { p in
                sqlite3_bind_text(handle, index, p, Int32(raw.count), outpost_sqlite_transient())
            }
        }
        if rc != SQLITE_OK { throw database.error(rc, sql: sql) }
    }

    /// Steps once; true when a row is available.
    public func step() throws(SQLiteError) -> Bool {
        let rc = sqlite3_step(handle)
        switch rc {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let error = database.error(rc, sql: sql)
            sqlite3_reset(handle)
            throw error
        }
    }

    /// Runs a statement that returns no rows.
    public func run() throws(SQLiteError) {
        while try step() {}
        sqlite3_reset(handle)
    }

    /// Steps through every row, calling `body` for each.
    public func forEach(_ body: (Row) throws -> Void) throws {
        defer { sqlite3_reset(handle) }
        while try step() { try body(Row(handle: handle)) }
    }

    /// Steps through rows while `body` returns true.
    public func scan(_ body: (Row) throws -> Bool) throws {
        defer { sqlite3_reset(handle) }
        while try step() {
            if !(try body(Row(handle: handle))) { return }
        }
    }

    /// The first row mapped by `body`, or nil when there is none.
    public func first<T>(_ body: (Row) throws -> T) throws -> T? {
        defer { sqlite3_reset(handle) }
        guard try step() else { return nil }
        return try body(Row(handle: handle))
    }
}

/// A value bound to a statement parameter.
public enum SQLValue: Hashable, Sendable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// The current row of a stepping statement; valid only inside the callback that receives it.
public struct Row {
    fileprivate let handle: OpaquePointer

    /// Whether column `i` is NULL.
    public func isNull(_ i: Int32) -> Bool { sqlite3_column_type(handle, i) == SQLITE_NULL }

    /// Column `i` as an integer.
    public func int(_ i: Int32) -> Int64 { sqlite3_column_int64(handle, i) }

    /// Column `i` as a double.
    public func double(_ i: Int32) -> Double { sqlite3_column_double(handle, i) }

    /// Column `i` as text (nil when NULL).
    public func text(_ i: Int32) -> String? {
        guard let p = sqlite3_column_text(handle, i) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, i))
        return String(decoding: UnsafeBufferPointer(start: p, count: count), as: UTF8.self)
    }

    /// Column `i` as bytes (empty when NULL).
    public func bytes(_ i: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(handle, i))
        guard count > 0, let p = sqlite3_column_blob(handle, i) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: count))
    }

    /// Column `i` as a buffer valid until the next step, for parsing without a copy.
    public func withBytes<T>(_ i: Int32, _ body: (UnsafeBufferPointer<UInt8>) throws -> T) rethrows -> T {
        let count = Int(sqlite3_column_bytes(handle, i))
        guard count > 0, let p = sqlite3_column_blob(handle, i) else {
            return try body(UnsafeBufferPointer(start: nil, count: 0))
        }
        return try body(UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: count))
    }
}
