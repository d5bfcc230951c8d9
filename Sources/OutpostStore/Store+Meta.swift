import OutpostCore

extension Store {
    /// A `meta` value (opened when the store seals it).
    func metaValue(_ key: String) throws -> SQLValue? {
        try db.cached("SELECT value, typeof(value) FROM meta WHERE key = ?").bind(.text(key)).first { row -> SQLValue in
            try Store.metaValue(row, column: 0, key: key, cipher: cipher)
        }
    }

    /// Sets a `meta` value (sealed when the store seals it).
    func setMeta(_ key: String, _ value: SQLValue) throws {
        try Store.setMeta(db, key, value, cipher: cipher)
    }

    func metaInt(_ key: String) throws -> Int64 {
        if case .integer(let i)? = try metaValue(key) { return i }
        return 0
    }

    func metaText(_ key: String) throws -> String? {
        switch try metaValue(key) {
        case .text(let s)?: return s
        default: return nil
        }
    }

    /// The reporter name this store records edits under.
    public var reporter: String {
        get throws(StoreError) { try read { try metaText("reporter") ?? "" } }
    }

    /// How many changes this replica has made (its change counter).
    public var ownChangeCount: Int64 {
        get throws(StoreError) { try read { try metaInt("counter") } }
    }

    /// A text setting (server URL, token, …); nil when unset.
    public func setting(_ key: String) throws(StoreError) -> String? {
        try read { try metaText(key) }
    }

    /// Sets or (with nil) removes text settings, in one transaction.
    public func setSettings(_ values: [String: String?]) throws(StoreError) {
        try write {
            for (key, value) in values {
                if let value {
                    try setMeta(key, .text(value))
                } else {
                    try db.cached("DELETE FROM meta WHERE key = ?").bind(.text(key)).run()
                }
            }
        }
    }

    /// An integer setting (sync cursors, clock offset); 0 when unset.
    public func integerSetting(_ key: String) throws(StoreError) -> Int64 {
        try read { try metaInt(key) }
    }

    /// Sets an integer setting.
    public func setIntegerSetting(_ key: String, _ value: Int64) throws(StoreError) {
        try write { try setMeta(key, .integer(value)) }
    }

    /// The offset (ms) added to the device clock, learned from the server.
    public var clockOffsetMs: Int64 {
        get throws(StoreError) { try integerSetting("clock_offset_ms") }
    }

    /// Records the offset learned from the server's time.
    public func setClockOffset(ms: Int64) throws(StoreError) {
        try setIntegerSetting("clock_offset_ms", ms)
    }

    /// The last hybrid-clock tag this store handed out.
    public var lastTag: HLCTag {
        get throws(StoreError) {
            try read { HLCTag(ms: try metaInt("clock_ms"), seq: UInt32(truncatingIfNeeded: try metaInt("clock_seq"))) }
        }
    }
}
