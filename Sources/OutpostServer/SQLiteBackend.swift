import Foundation
import NIOPosix
import OutpostCore
import OutpostStore

/// The embedded default: the server's own `Store` (reporter "server") plus its token table,
/// in one SQLite file. Sync batches run one at a time on a queue of their own; every other call
/// runs on `NIOThreadPool.singleton`; none on the cooperative pool. Reads (analysts' queries, the
/// health check, whether a replica is known) use a second connection, so a long batch or a queue
/// of them holds up neither those reads nor the threads they run on.
public final class SQLiteBackend: SyncRepository, IncidentRepository, DeviceRepository, @unchecked Sendable {
    // @unchecked Sendable: `store` and `reader` are Sendable and lock themselves; `tokens` is only
    // used under `tokenLock`, `tokenWriter` only under `tokenWriterLock`.
    /// The server's replica store.
    public let store: Store
    /// A second connection to the same file for analysts' queries: in WAL mode its reads neither
    /// wait for nor hold up sync batches (a scan of every incident took the store for a second).
    private let reader: Store
    /// Reads of the token table (authentication, names) and the health check: in WAL mode they
    /// never wait for a writer, so no sync batch or binding holds up authentication.
    private let tokens: Database
    private let tokenLock = NSLock()
    /// Writes to the token table (binding, enrolment, revocation): they may wait for a sync
    /// batch's transaction, and they do so on this connection, not on the one every request reads.
    private let tokenWriter: Database
    private let tokenWriterLock = NSLock()
    /// Held through a whole sync batch (apply, then the reads of its answer), so that a batch
    /// waiting its turn does not take the store between another's commit and its answer.
    private let syncLock = NSLock()
    /// Where sync batches run, one after another: waiting batches hold no thread of the shared pool.
    private let syncQueue = DispatchQueue(label: "outpost-server.sync", qos: .userInitiated)
    private let clock: @Sendable () -> Int64

    /// The reporter name of the server's own replica.
    public static let serverReporter = "server"

    /// Opens the database at `path`; with `create`, makes it first when missing.
    public init(databasePath path: String, create: Bool = true) throws {
        if create { try SQLiteBackend.createIfMissing(path) }
        store = try Store.open(databasePath: path)
        reader = try Store.open(databasePath: path)
        tokens = try Database(path: path, create: false)
        tokens.setBusyTimeout(milliseconds: 5_000)
        try tokens.execute("PRAGMA foreign_keys = ON")
        tokenWriter = try Database(path: path, create: false)
        tokenWriter.setBusyTimeout(milliseconds: 5_000)
        try tokenWriter.execute("PRAGMA foreign_keys = ON")
        clock = store.systemClock
    }

    private static func createIfMissing(_ path: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else { return }
        let folder = (path as NSString).deletingLastPathComponent
        var isFolder: ObjCBool = false
        if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) || !isFolder.boolValue {
            throw ServerCommandError(
                "cannot create the database \(path): the folder \(folder) does not exist; create it or pick another --db")
        }
        let outcome = Result { () throws(StoreError) -> Store in try Store.create(databasePath: path, reporter: serverReporter) }
        // Made concurrently by another process: it is opened afterwards like any existing one.
        if case .failure(let error) = outcome, error.kind != .alreadyExists { throw error }
    }

    private func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(body)
    }

    private func withTokens<T>(_ body: (Database) throws -> T) throws -> T {
        tokenLock.lock()
        defer { tokenLock.unlock() }
        return try body(tokens)
    }

    private func withTokenWriter<T>(_ body: (Database) throws -> T) throws -> T {
        tokenWriterLock.lock()
        defer { tokenWriterLock.unlock() }
        return try body(tokenWriter)
    }

    // MARK: SyncRepository

    private func onSyncQueue<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            syncQueue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    public func sync(_ batch: SyncBatch) async throws -> SyncOutcome {
        try await onSyncQueue { [store, syncLock] in
            try syncLock.withLock {
                let report = batch.changes.isEmpty ? ApplyReport() : try store.applyRemote(batch.changes)
                let acked = try store.contiguousCounter(of: batch.replica)
                let pulled = try store.changes(
                    afterSeq: batch.pullAfter, excluding: batch.replica, limit: batch.pullLimit, maxBytes: batch.pullMaxBytes)
                // More waits when the log goes past what this batch reached (cheap: max of the primary key).
                let more = pulled.nextSeq < (try store.lastSeq())
                return SyncOutcome(
                    report: report, ackedCounter: acked, pulled: pulled.changes.map(\.body), cursor: pulled.nextSeq, more: more)
            }
        }
    }

    public func isKnownReplica(_ replica: ReplicaID) async throws -> Bool {
        try await offload { [reader] in
            if replica == reader.replica { return true }
            if try reader.contiguousCounter(of: replica) > 0 { return true }
            return try reader.reporterNames()[replica] != nil
        }
    }

    // MARK: IncidentRepository

    public func incidents(matching query: IncidentQuery) async throws -> IncidentPage {
        try await offload { [reader] in
            if !query.filtersFields {
                // Paging and the `since` filter in SQL: only the page's states are read.
                let (page, total, more) = try reader.incidentPage(
                    includeDeleted: query.includeDeleted, updatedAfterMs: query.updatedAfterMs,
                    after: query.after.map { ($0.createdMs, $0.id) }, offset: query.offset, limit: query.limit)
                return IncidentPage(incidents: page, total: total, hasMore: more)
            }
            var page: [IncidentRecord] = []
            var total = 0
            var skipped = 0
            var hasNext = false
            try reader.forEachIncident(includeDeleted: query.includeDeleted) { incident in
                guard query.matches(incident) else { return }
                total += 1
                if let after = query.after {
                    guard after.precedes(incident) else { return }
                } else if skipped < query.offset {
                    skipped += 1
                    return
                }
                if page.count < query.limit { page.append(incident) } else { hasNext = true }
            }
            return IncidentPage(incidents: page, total: total, hasMore: hasNext)
        }
    }

    public func incidentDetail(id: String) async throws -> IncidentDetail? {
        try await offload { [reader] in
            guard let incident = try reader.incident(id: id) else { return nil }
            let state = try reader.recordState(id: id) ?? RecordState()
            let conflicts = state.conflicts.sorted { $0.key < $1.key }.map { field, siblings in
                ConflictedField(field: field, siblings: siblings.sorted { $0.order > $1.order })
            }
            let history = try reader.history(id: id)
            let authors = Set(history.map(\.change.dot.replica) + conflicts.flatMap { $0.siblings.map(\.dot.replica) })
            return IncidentDetail(
                incident: incident, conflicts: conflicts, keptAliveByConcurrentEdit: state.isKeptAliveByConcurrentEdit,
                history: history, enrolledReporters: try self.enrolledReporters(of: authors))
        }
    }

    /// The enrolled reporter of each replica a token was bound to (the server's own replica is
    /// "server"); replicas no token was ever bound to are absent. Never the name a change carries.
    public func enrolledReporters(of replicas: Set<ReplicaID>) throws -> [ReplicaID: String] {
        try withTokens { db in
            var names: [ReplicaID: String] = [:]
            let statement = try db.cached("SELECT reporter FROM server_tokens WHERE replica = ? ORDER BY id LIMIT 1")
            for replica in replicas {
                if replica == store.replica {
                    names[replica] = SQLiteBackend.serverReporter
                } else if let name = try statement.bind(.blob(replica.bytes)).first({ $0.text(0) }), let name {
                    names[replica] = name
                }
            }
            return names
        }
    }

    /// Reads the log's end on the token connection: neither a sync batch nor an analyst's scan
    /// (each on its own connection, each locked for its length) holds it up.
    public func checkHealth() async throws {
        _ = try await offload {
            try self.withTokens { db in try db.cached("SELECT coalesce(max(seq), 0) FROM changes").first { $0.int(0) } }
        }
    }

    // MARK: DeviceRepository

    public func authenticate(token: String) async throws -> Device? {
        guard DeviceToken.isPlausible(token) else { return nil }
        return try await offload { try self.authenticateNow(token: token) }
    }

    private func authenticateNow(token: String) throws -> Device? {
        let hash = DeviceToken.hash(token)
        return try withTokens { db -> Device? in
            var found: Device?
            try db.cached("SELECT id, reporter, role, hash, replica FROM server_tokens WHERE lookup = ? AND revoked_ms IS NULL")
                .bind(.blob(DeviceToken.lookup(hash))).forEach { row in
                    // Every candidate is compared in full, in constant time.
                    if DeviceToken.constantTimeEqual(row.bytes(3), hash), found == nil,
                        let role = Role(rawValue: row.text(2) ?? "")
                    {
                        found = Device(
                            tokenID: row.int(0), reporter: row.text(1) ?? "", role: role,
                            replica: row.isNull(4) ? nil : ReplicaID(bytes: row.bytes(4)))
                    }
                }
            return found
        }
    }

    public func bind(_ device: Device, to replica: ReplicaID) async throws -> BindResult {
        if let bound = device.replica { return bound == replica ? .bound : .boundToOther(bound) }
        // A replica the server already holds changes of may only be bound by a token of the same
        // reporter that was bound to it before (a re-enrolled device); never the server's own.
        let known = try await isKnownReplica(replica)
        let now = clock()
        // On the sync queue: a binding write waits for no batch's transaction there, and while
        // batches run it waits in line without holding a thread of the shared pool.
        return try await onSyncQueue {
            try self.withTokenWriter { db -> BindResult in
                try db.transaction { () throws -> BindResult in
                    if let current = try db.cached("SELECT replica FROM server_tokens WHERE id = ?").bind(
                        .integer(device.tokenID)
                    )
                    .first({ $0.isNull(0) ? nil : ReplicaID(bytes: $0.bytes(0)) }), let current {
                        return current == replica ? .bound : .boundToOther(current)
                    }
                    var sameReporter = false
                    var otherReporter = false
                    try db.cached("SELECT DISTINCT reporter FROM server_tokens WHERE replica = ?").bind(.blob(replica.bytes))
                        .forEach { row in
                            if row.text(0) == device.reporter { sameReporter = true } else { otherReporter = true }
                        }
                    if otherReporter || (known && !sameReporter) || replica == self.store.replica { return .replicaTaken }
                    try db.cached("UPDATE server_tokens SET replica = ?, bound_ms = ? WHERE id = ? AND replica IS NULL")
                        .bind(.blob(replica.bytes), .integer(now), .integer(device.tokenID)).run()
                    return .bound
                }
            }
        }
    }

    public func enroll(reporter: String, role: Role) throws -> String {
        let name = reporter.trimmingCharacters(in: .whitespacesAndNewlines)
        guard Change.isValidReporterName(name) else {
            throw ServerCommandError(Change.reporterNameRule)
        }
        let token = DeviceToken.generate()
        let hash = DeviceToken.hash(token)
        let now = clock()
        try withTokenWriter { db in
            try db.cached("INSERT INTO server_tokens (reporter, role, lookup, hash, created_ms) VALUES (?, ?, ?, ?, ?)")
                .bind(.text(name), .text(role.rawValue), .blob(DeviceToken.lookup(hash)), .blob(hash), .integer(now)).run()
        }
        return token
    }

    public func revoke(reporter: String) throws -> Int {
        let name = reporter.trimmingCharacters(in: .whitespacesAndNewlines)
        let now = clock()
        return try withTokenWriter { db in
            let known =
                try db.cached("SELECT count(*) FROM server_tokens WHERE reporter = ?").bind(.text(name)).first { $0.int(0) } ?? 0
            guard known > 0 else { throw ServerCommandError("no tokens were ever enrolled for reporter \"\(name)\"") }
            try db.cached("UPDATE server_tokens SET revoked_ms = ? WHERE reporter = ? AND revoked_ms IS NULL")
                .bind(.integer(now), .text(name)).run()
            return db.changes
        }
    }

    /// Stored token rows (for tests and audits): reporter, role, hash, revoked.
    public func tokenRows() throws -> [(reporter: String, role: String, hash: [UInt8], revoked: Bool)] {
        try withTokens { db in
            var out: [(reporter: String, role: String, hash: [UInt8], revoked: Bool)] = []
            try db.prepare("SELECT reporter, role, hash, revoked_ms IS NOT NULL FROM server_tokens ORDER BY id").forEach { row in
                out.append((row.text(0) ?? "", row.text(1) ?? "", row.bytes(2), row.int(3) != 0))
            }
            return out
        }
    }
}

/// A failure of a server command (enroll, revoke, export), with a message for the operator.
public struct ServerCommandError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
