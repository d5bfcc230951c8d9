import Foundation
import OutpostCore

/// A replica's store: one SQLite file holding the change log and the merged record state.
///
/// Every public method is one transaction. Local edits and remote changes are applied by the
/// same code (`ChangeApplier`), so a reporter's own edit follows exactly the rules a peer's does.
public final class Store: @unchecked Sendable {
    // @unchecked Sendable: every access to `db` and the cached fields below happens while
    // holding `lock`, so the connection is never used from two threads at once.
    let lock = NSLock()
    let db: Database

    /// The file name of the database inside the store folder.
    public static let fileName = "outpost.db"

    /// Guards `currentIdentity`, which a restored store replaces (`rotateIdentity`) while
    /// readers elsewhere may ask for `replica`; separate from `lock`, which `write` holds.
    private let identityLock = NSLock()
    private var currentIdentity: (replica: ReplicaID, key: DeviceKey)

    /// This store's replica id (it changes only when the store finds it was restored).
    public var replica: ReplicaID { identityLock.withLock { currentIdentity.replica } }
    /// This store's signing key.
    var key: DeviceKey { identityLock.withLock { currentIdentity.key } }
    /// This store's 32-byte Ed25519 public key.
    public var publicKey: [UInt8] { key.publicKey }

    private var replicaNamer: (@Sendable () -> ReplicaID)?

    /// Names the replica a restored store continues under, instead of its new key's ID: scenario
    /// replays name them `R#2`, `R#3`, … (`conflict-scenarios.md`).
    public var restoredReplicaNaming: (@Sendable () -> ReplicaID)? {
        get { identityLock.withLock { replicaNamer } }
        set { identityLock.withLock { replicaNamer = newValue } }
    }

    /// Replaces the identity (after the meta rows say so, inside the same transaction).
    func setIdentity(replica: ReplicaID, key: DeviceKey) {
        identityLock.withLock { currentIdentity = (replica, key) }
    }
    /// The store folder.
    public let directory: String
    /// The cipher sealing this store's content; nil for a plaintext store (`Store+Sealing`).
    let cipher: StoreCipher?

    /// Replica id → local index, cached (the replicas table only grows).
    var replicaIndex: [ReplicaID: Int64] = [:]
    /// Local index → replica id.
    var replicaByIndex: [Int64: ReplicaID] = [:]
    /// Local index → the reporter name recorded for the replica (absent when NULL).
    var reporterByIndex: [Int64: String] = [:]

    /// From how many changes or records in one transaction on their encoding runs on a second
    /// thread while this one writes (`EncodingPipeline`); below it, starting the thread costs
    /// more than it saves. Tests lower it to run both ways over the same changes.
    var encodingPipelineThreshold = 512

    /// The query indexes held in memory (`Store+QueryMirror`), once a query has read them.
    var queryMirror: QueryMirror?

    /// How many held-back change bodies releases have read back and parsed from the log (tests
    /// count the work of a release with it).
    var heldBackBodiesParsed = 0

    /// Source of wall-clock milliseconds (uncorrected); tests and replays may replace it.
    public var systemClock: @Sendable () -> Int64 = { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }

    private init(db: Database, directory: String, replica: ReplicaID, key: DeviceKey, cipher: StoreCipher?) {
        self.db = db
        self.directory = directory
        self.cipher = cipher
        self.currentIdentity = (replica, key)
    }

    /// The database file inside a store folder.
    public static func databasePath(in directory: String) -> String {
        (directory as NSString).appendingPathComponent(fileName)
    }

    /// Whether a store exists in `directory`.
    public static func exists(at directory: String) -> Bool {
        FileManager.default.fileExists(atPath: databasePath(in: directory))
    }

    /// Creates a new store in a folder; fails and changes nothing when one exists.
    ///
    /// The store makes its Ed25519 key pair; its replica ID is the key's (`ReplicaID.derived`)
    /// unless `replica` names another (scenario replicas keep their names). With a `cipher` the
    /// store is encrypted: its content is sealed under the cipher's key (`Store+Sealing`).
    public static func create(
        at directory: String, reporter: String, replica: ReplicaID? = nil, settings: [String: String] = [:],
        cipher: StoreCipher? = nil
    ) throws(StoreError) -> Store {
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw StoreError(.storage, "cannot create the store folder \(directory): \(error.localizedDescription)")
        }
        return try create(
            databasePath: databasePath(in: directory), reporter: reporter, replica: replica, settings: settings, cipher: cipher)
    }

    /// Creates a new store database file at `path`; fails and changes nothing when one exists.
    public static func create(
        databasePath path: String, reporter: String, replica chosenReplica: ReplicaID? = nil, settings: [String: String] = [:],
        cipher: StoreCipher? = nil
    ) throws(StoreError) -> Store {
        let trimmed = reporter.trimmingCharacters(in: .whitespacesAndNewlines)
        guard Change.isValidReporterName(trimmed) else {
            throw StoreError(.invalidValue, Change.reporterNameRule)
        }
        if FileManager.default.fileExists(atPath: path) {
            throw StoreError(.alreadyExists, "a store already exists at \(path); nothing was changed")
        }
        // Build the store under a temporary name and move it into place, so a crash never leaves
        // a half-made store behind and two concurrent `init`s cannot both succeed.
        let temporary = path + ".init-\(getpid())"
        let key = DeviceKey()
        let replica = chosenReplica ?? key.replicaID
        do {
            let db = try Database(path: temporary, create: true)
            // 4 KB pages (set before the first table): a sync batch edits records scattered over
            // the whole table, and every page it touches is written to the WAL at commit and again
            // at checkpoint; with 16 KB pages that was four times the bytes for the same edits
            // (`outpost-bench apply`: 13,400 → 23,000 changes/s).
            try db.execute("PRAGMA page_size = 4096")
            try configure(db)
            try Migrator.migrate(db, nowMs: Int64(Date().timeIntervalSince1970 * 1000))
            try db.transaction {
                var meta: [String: SQLValue] = [
                    "replica": .blob(replica.bytes), "reporter": .text(trimmed), "counter": .integer(0),
                    "clock_ms": .integer(0), "clock_seq": .integer(0), "clock_offset_ms": .integer(0),
                    "created_ms": .integer(Int64(Date().timeIntervalSince1970 * 1000)),
                    Store.signingKeyMeta: .blob(key.seed),
                ]
                for (k, v) in settings { meta[k] = .text(v) }
                // The file's identity (the link into place below keeps the inode), so a copy of the
                // store elsewhere knows it is a copy (`trust.md`, "Restored stores").
                if let identity = fileIdentity(ofDatabaseAt: temporary) { meta[fileIdentityKey] = .text(identity) }
                if let cipher {
                    meta[cipherMeta] = .text(StoreCipher.formatName)
                    meta[keyCheckMeta] = .blob(try cipher.sealed(keyCheckValue, for: .meta(keyCheckMeta)))
                }
                let insert = try db.cached("INSERT INTO meta (key, value) VALUES (?, ?)")
                for (k, v) in meta { try insert.bind(.text(k), try storedMetaValue(v, key: k, cipher: cipher)).run() }
                try db.cached("INSERT INTO replicas (idx, id, reporter) VALUES (1, ?, ?)")
                    .bind(.blob(replica.bytes), try storedText(trimmed, for: .replicaReporter(replica), cipher: cipher)).run()
                try Store.trustOwnKey(db, replica: replica, key: key, reporter: trimmed, cipher: cipher)
            }
            try db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        } catch {
            removeDatabaseFiles(temporary)
            throw StoreError.wrap(error)
        }
        chmod(temporary, 0o600)
        if link(temporary, path) != 0 {
            removeDatabaseFiles(temporary)
            throw StoreError(.alreadyExists, "a store already exists at \(path); nothing was changed")
        }
        removeDatabaseFiles(temporary)
        return try open(databasePath: path, cipher: cipher)
    }

    /// Opens an existing store folder; fails with a clear message when it is missing or too new,
    /// or encrypted and `cipher` is nil or holds another key (`.encrypted`). A plaintext store
    /// opens as plaintext whatever `cipher` is.
    public static func open(at directory: String, cipher: StoreCipher? = nil) throws(StoreError) -> Store {
        guard FileManager.default.fileExists(atPath: databasePath(in: directory)) else {
            throw StoreError(.missing, "no Outpost store at \(directory) (run `outpost init --reporter NAME` first)")
        }
        return try open(databasePath: databasePath(in: directory), cipher: cipher)
    }

    /// Opens an existing store database file (see `open(at:cipher:)`).
    public static func open(databasePath path: String, cipher given: StoreCipher? = nil) throws(StoreError) -> Store {
        let directory = (path as NSString).deletingLastPathComponent
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.missing, "no Outpost database at \(path)")
        }
        do {
            let db = try Database(path: path, create: false)
            try configure(db)
            let version = try Migrator.currentVersion(db)
            if version > Migrator.latestVersion {
                throw SchemaTooNewError(found: version, known: Migrator.latestVersion)
            }
            // Before anything is changed: an encrypted store opens only with its key.
            let cipher = try checkedCipher(db, given: given, directory: directory)
            if version < Migrator.latestVersion { try Migrator.migrate(db, nowMs: Int64(Date().timeIntervalSince1970 * 1000)) }
            guard let replicaBytes = try db.prepare("SELECT value FROM meta WHERE key = 'replica'").first({ $0.bytes(0) }),
                !replicaBytes.isEmpty
            else { throw StoreError(.storage, "the store at \(directory) has no replica id; it is damaged") }
            let (replica, key) = try Store.loadIdentity(db, replica: ReplicaID(bytes: replicaBytes), cipher: cipher)
            let store = Store(db: db, directory: directory, replica: replica, key: key, cipher: cipher)
            try store.loadReplicas()
            try store.continueUnderANewReplicaIfCopied()
            try store.indexHeldBackOfOlderSchema()
            return store
        } catch {
            throw StoreError.wrap(error)
        }
    }

    private static func configure(_ db: Database) throws(SQLiteError) {
        db.setBusyTimeout(milliseconds: 5_000)
        // One exec for every setting. Checkpoints copy the WAL into the database file and sync
        // both: let the WAL reach 8192 pages (32 MB) before an automatic one, so a sync of many
        // batches pays for a few instead of one every other batch, and never on close (see
        // `keepWALOnClose`); a WAL larger than 64 MB is cut back after a checkpoint.
        // A 32 MB page cache, no memory-mapped reads: a client and a server each stay well under
        // 150 MB however large the store grows. `secure_delete` zeroes the bytes of deleted or
        // overwritten rows and of freed pages, so a replaced token or a removed row does not
        // linger in the file (the WAL is cut back when a command ends: `checkpointAndTruncate`).
        try db.execute(
            """
            PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
            PRAGMA wal_autocheckpoint = 8192; PRAGMA journal_size_limit = 67108864;
            PRAGMA cache_size = -32768; PRAGMA mmap_size = 0; PRAGMA temp_store = MEMORY;
            PRAGMA secure_delete = ON
            """)
        try db.keepWALOnClose()
    }

    private static func removeDatabaseFiles(_ path: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
    }

    /// Indexes the held-back changes a store made before schema 4 kept (once, after the migration
    /// marked them): their waits depend on the records' states, which only Swift can read.
    private func indexHeldBackOfOlderSchema() throws {
        guard try db.prepare("SELECT 1 FROM meta WHERE key = 'held_back_unindexed'").first({ _ in true }) == true else { return }
        try write {
            let applier = try ChangeApplier(store: self, receivedMs: systemClock())
            try applier.indexHeldBackOfOlderSchema()
            try applier.finish()
            try db.execute("DELETE FROM meta WHERE key = 'held_back_unindexed'")
        }
    }

    func loadReplicas() throws {
        try db.cached("SELECT idx, id, reporter FROM replicas").forEach { row in
            let idx = row.int(0)
            if replicaByIndex[idx] == nil {
                let id = ReplicaID(bytes: row.bytes(1))
                replicaIndex[id] = idx
                replicaByIndex[idx] = id
            }
            reporterByIndex[idx] = try Store.openedText(
                row, 2, for: .replicaReporter(replicaByIndex[idx] ?? ReplicaID(bytes: row.bytes(1))), cipher: cipher)
        }
    }

    /// From how many rows on a bulk transaction (`write(bulkRows:_:)`) goes through a rollback
    /// journal: below it, leaving WAL mode and coming back (a checkpoint and two journal changes)
    /// costs more than writing the rows twice, and readers would wait for nothing.
    static let rollbackJournalRows = 1_000

    /// Runs `body` under the lock in one write transaction, mapping every failure to `StoreError`.
    ///
    /// A transaction of `bulkRows` rows, from `rollbackJournalRows` on (an import, a bundle), goes
    /// through a rollback journal instead of the WAL when no other connection has the store
    /// open. In WAL mode every page is written twice, to the WAL and again at the checkpoint;
    /// a rollback journal copies only the pages that existed before, so the new rows are written
    /// once. `synchronous=FULL` keeps it as durable, and a killed process leaves a hot journal
    /// that the next open rolls back. The store returns to WAL mode afterwards (and every open
    /// sets it too). While such a transaction runs, other processes wait for the store instead
    /// of reading the state before it.
    func write<T>(bulkRows: Int = 0, _ body: () throws -> T) throws(StoreError) -> T {
        lock.lock()
        defer { lock.unlock() }
        let rollbackJournal = bulkRows >= Store.rollbackJournalRows && db.setJournalMode(.delete)
        defer { if rollbackJournal { _ = db.setJournalMode(.wal) } }
        let savedIndex = replicaIndex
        let savedByIndex = replicaByIndex
        let savedReporters = reporterByIndex
        do {
            return try db.transaction(body)
        } catch {
            replicaIndex = savedIndex
            replicaByIndex = savedByIndex
            reporterByIndex = savedReporters
            throw StoreError.wrap(error)
        }
    }

    /// Runs `body` under the lock in a read transaction (a consistent snapshot).
    func read<T>(_ body: () throws -> T) throws(StoreError) -> T {
        lock.lock()
        defer { lock.unlock() }
        do {
            try db.execute("BEGIN")
            defer { try? db.execute("COMMIT") }
            return try body()
        } catch {
            throw StoreError.wrap(error)
        }
    }
}
