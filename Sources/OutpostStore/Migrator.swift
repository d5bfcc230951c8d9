/// One SQL migration from `Schema/`, embedded at build time.
public struct EmbeddedMigration: Sendable {
    /// The number the file name starts with.
    public let version: Int
    /// The file name.
    public let name: String
    /// The SQL.
    public let sql: String
}

/// A store written by a newer Outpost than this one.
public struct SchemaTooNewError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The store's schema version.
    public var found: Int
    /// The newest this build knows.
    public var known: Int

    public var description: String {
        "the store was written by a newer version of Outpost (schema \(found); this build knows up to \(known)); upgrade Outpost to open it"
    }
}

/// Applies the embedded migrations in order, each once, each in its own transaction.
public enum Migrator {
    /// Every migration this build carries, in order.
    public static var migrations: [EmbeddedMigration] { embeddedMigrations.sorted { $0.version < $1.version } }

    /// The newest schema version this build knows.
    public static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// The schema version recorded in the database (0 for an empty one).
    public static func currentVersion(_ db: Database) throws -> Int {
        try db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL) STRICT"
        )
        return Int(try db.cached("SELECT coalesce(max(version), 0) FROM schema_migrations").first { $0.int(0) } ?? 0)
    }

    /// Refuses a newer store without changing it; else applies what is missing.
    public static func migrate(_ db: Database, nowMs: Int64) throws {
        let known = latestVersion
        let found = try currentVersion(db)
        if found > known { throw SchemaTooNewError(found: found, known: known) }
        for migration in migrations where migration.version > found {
            try db.transaction {
                try db.execute(migration.sql)
                try db.cached("INSERT INTO schema_migrations (version, name, applied_ms) VALUES (?, ?, ?)")
                    .bind(.integer(Int64(migration.version)), .text(migration.name), .integer(nowMs)).run()
            }
        }
    }
}
