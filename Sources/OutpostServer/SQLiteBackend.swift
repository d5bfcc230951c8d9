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
    let reader: Store
    /// Reads of the token table (authentication, names) and the health check: in WAL mode they
    /// never wait for a writer, so no sync batch or binding holds up authentication.
    let tokens: Database
    private let tokenLock = NSLock()
    /// Writes to the token table (binding, enrolment, revocation): they may wait for a sync
    /// batch's transaction, and they do so on this connection, not on the one every request reads.
    private let tokenWriter: Database
    private let tokenWriterLock = NSLock()
    /// Held through a whole sync batch (apply, then the reads of its answer), so that a batch
    /// waiting its turn does not take the store between another's commit and its answer.
    let syncLock = NSLock()
    /// Where sync batches run, one after another: waiting batches hold no thread of the shared pool.
    private let syncQueue = DispatchQueue(label: "outpost-server.sync", qos: .userInitiated)
    /// Indexes the text of what batches wrote, between batches (nil without query indexes).
    let textIndexer: QueryTextIndexer?
    private let clock: @Sendable () -> Int64
    /// The server's roster signing key (kept in the store's meta, made once).
    public let rosterKey: DeviceKey

    /// The reporter name of the server's own replica.
    public static let serverReporter = "server"

    /// Opens the database at `path`; with `create`, makes it first when missing. With
    /// `queryIndexes` true, the analysts' query indexes are made (once), brought up to date and
    /// kept (their text between sync batches, after `textIndexDelay` seconds without one;
    /// infinite: only when asked, for tests); false drops them (a later start with them makes
    /// them again); nil leaves them as they are (a command that serves nothing).
    public init(databasePath path: String, create: Bool = true, queryIndexes: Bool? = nil, textIndexDelay: Double = 0.25)
        throws
    {
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
        rosterKey = try store.serverRosterKey()
        textIndexer = queryIndexes == true ? QueryTextIndexer(store: store, queue: syncQueue, idleDelay: textIndexDelay) : nil
        try repairAccess()
        switch queryIndexes {
        case true?: try store.enableQueryIndexes()
        case false?: try store.disableQueryIndexes()
        case nil: break  // a command that serves nothing (enrol, backup…) leaves them as they are
        }
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

    func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await NIOThreadPool.singleton.runIfActive(body)
    }

    func withTokens<T>(_ body: (Database) throws -> T) throws -> T {
        tokenLock.lock()
        defer { tokenLock.unlock() }
        return try body(tokens)
    }

    func withTokenWriter<T>(_ body: (Database) throws -> T) throws -> T {
        tokenWriterLock.lock()
        defer { tokenWriterLock.unlock() }
        return try body(tokenWriter)
    }

    // MARK: SyncRepository

    /// Runs `body` on the sync queue, after the batches (and parcels) queued before it.
    func onSyncQueue<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            syncQueue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    public func sync(_ batch: SyncBatch) async throws -> SyncOutcome {
        try await onSyncQueue { [self, store, syncLock, rosterKey] in
            try syncLock.withLock {
                // A pull position is a hint: past the log's end, or naming another change than the
                // one there, it is from a log this server no longer has (restored from an older
                // copy), and the pull starts again from 0. Checked before the batch adds to the log.
                let reset = try SQLiteBackend.pullPositionIsStale(batch, in: store)
                let logEnd = try store.lastSeq()
                let report: ApplyReport
                do {
                    report =
                        batch.changes.isEmpty
                        ? ApplyReport()
                        : try store.applyRemote(batch.changes, trust: .server, deliveredBy: batch.deliveredBy)
                } catch let error as StoreError where error.kind == .refusedChange {
                    // Nothing of the batch was stored; the operator sees who delivered what.
                    try? store.recordSecurityEvent(
                        kind: error.refusal?.reason.rawValue ?? "refused_change", token: batch.deliveredBy, detail: error.message)
                    throw error
                }
                try afterApply(report, logEnd: logEnd)
                let acked = try store.contiguousCounter(of: batch.replica)
                let pulled = try pull(batch, reset: reset)
                return SyncOutcome(
                    report: report, ackedCounter: acked, pulled: pulled.changes, cursor: pulled.cursor, more: pulled.more,
                    cursorDot: pulled.cursor > 0 ? try store.dot(atSeq: pulled.cursor) : nil, cursorReset: reset,
                    rosterKey: rosterKey.publicKey, roster: try store.signedRoster(after: batch.rosterAfter),
                    summary: batch.wantsSummary ? try store.summary() : nil, access: pulled.access,
                    accessCursor: pulled.accessCursor)
            }
        }
    }

    /// Whether the batch's pull position is not in this server's log: past its end, or (when the
    /// sender names the change there) holding another change. A position whose change was held
    /// back and has since moved on to the end of the log (on its release) still matches.
    /// What follows every apply on the sync queue (a batch, a parcel, an analyst's edit): who may
    /// read the records it touched (`record_access`, for the log past `logEnd`), and the text
    /// indexer told of it (text it made pending is indexed at the next quiet moment).
    func afterApply(_ report: ApplyReport, logEnd: Int64) throws {
        if report.applied > 0 { try updateAccess(appliedAfter: logEnd) }
        textIndexer?.batch(applied: report.applied > 0)
    }

    static func pullPositionIsStale(_ batch: SyncBatch, in store: Store) throws -> Bool {
        guard batch.pullAfter > 0 else { return false }
        if batch.pullAfter > (try store.lastSeq()) { return true }
        guard let expected = batch.pullAfterDot else { return false }
        if let there = try store.dot(atSeq: batch.pullAfter) { return there != expected }
        guard let moved = try store.seq(of: expected) else { return true }
        return moved < batch.pullAfter
    }

    public func isKnownReplica(_ replica: ReplicaID) async throws -> Bool {
        try await offload { [reader] in
            if replica == reader.replica { return true }
            if try reader.contiguousCounter(of: replica) > 0 { return true }
            return try reader.reporterNames()[replica] != nil
        }
    }

    // MARK: IncidentRepository

    public func incidents(matching query: IncidentQuery, readableBy scope: AccessScope) async throws -> IncidentPage {
        try await offload { [reader] in
            // The scope's teams narrow the query's (an analyst never reads past them).
            var query = query
            let pagesInSQL = !query.filtersFields  // no filter but paging and `since` (teams aside)
            if let teams = scope.teams {
                let asked = query.teams.map { $0.intersection(teams) } ?? teams
                if asked.isEmpty { return IncidentPage(incidents: [], total: 0, hasMore: false) }
                query.teams = asked
            }
            if let page = try self.indexedIncidents(query, reader: reader) { return page }
            if pagesInSQL, let teams = query.teams {
                let (page, total, more) = try reader.incidentPage(
                    inTeams: teams, includeDeleted: query.includeDeleted, updatedAfterMs: query.updatedAfterMs,
                    after: query.after.map { ($0.createdMs, $0.id) }, offset: query.offset, limit: query.limit)
                return IncidentPage(incidents: page, total: total, hasMore: more)
            }
            if pagesInSQL && query.teams == nil {
                // Paging and the `since` filter in SQL: only the page's states are read.
                let (page, total, more) = try reader.incidentPage(
                    includeDeleted: query.includeDeleted, updatedAfterMs: query.updatedAfterMs,
                    after: query.after.map { ($0.createdMs, $0.id) }, offset: query.offset, limit: query.limit)
                return IncidentPage(incidents: page, total: total, hasMore: more)
            }
            // Without the query indexes: the ids of the scope's and the query's teams (nil: every
            // incident), and the creator's enrolled name for `reporter`.
            let readable = try query.teams.map { try reader.incidentIDs(inTeams: $0) }
            var names: [ReplicaID: String] = [:]
            func createdByReporter(_ id: String) throws -> Bool {
                guard let reporter = query.reporter else { return true }
                guard let creator = try reader.history(id: id).first?.change.dot.replica else { return false }
                if names[creator] == nil { names.merge(try self.enrolledReporters(of: [creator])) { $1 } }
                return (creator == reader.replica ? SQLiteBackend.serverReporter : names[creator]) == reporter
            }
            // Matches first (the store is read inside the scan), then the creators' names.
            var matched: [IncidentRecord] = []
            try reader.forEachIncident(includeDeleted: query.includeDeleted) { incident in
                if query.matches(incident), readable?.contains(incident.id) ?? true { matched.append(incident) }
            }
            var page: [IncidentRecord] = []
            var total = 0
            var skipped = 0
            var hasNext = false
            for incident in matched where try createdByReporter(incident.id) {
                total += 1
                if let after = query.after {
                    guard after.precedes(incident) else { continue }
                } else if skipped < query.offset {
                    skipped += 1
                    continue
                }
                if page.count < query.limit { page.append(incident) } else { hasNext = true }
            }
            return IncidentPage(incidents: page, total: total, hasMore: hasNext)
        }
    }

    public func incidentDetail(id: String, readableBy scope: AccessScope) async throws -> IncidentDetail? {
        try await offload { [reader] in
            guard scope.mayRead(try reader.serverAccess(of: RecordKey(id: id))),
                let incident = try reader.incident(id: id)
            else { return nil }
            let state = try reader.recordState(id: id) ?? RecordState()
            let conflicts = state.conflicts.sorted { $0.key < $1.key }.map { field, siblings in
                ConflictedField(field: field, siblings: siblings.sorted { $0.order > $1.order })
            }
            let history = try reader.history(id: id)
            let authors = Set(history.map(\.change.dot.replica) + conflicts.flatMap { $0.siblings.map(\.dot.replica) })
            let provenance = try reader.provenance(of: history.map(\.change.dot))
            return IncidentDetail(
                incident: incident, conflicts: conflicts, keptAliveByConcurrentEdit: state.isKeptAliveByConcurrentEdit,
                history: history, enrolledReporters: try self.enrolledReporters(of: authors), provenance: provenance,
                deliverers: try self.tokenReporters(Set(provenance.values.compactMap(\.deliveredBy))), version: state.version)
        }
    }

    public func roster() async throws -> ServerRoster {
        try await offload { [reader, rosterKey] in
            ServerRoster(rosterKey: rosterKey.publicKey, entries: try reader.signedRoster())
        }
    }

    /// The reporter each token id was enrolled for.
    func tokenReporters(_ ids: Set<Int64>) throws -> [Int64: String] {
        try withTokens { db in
            var names: [Int64: String] = [:]
            let statement = try db.cached("SELECT reporter FROM server_tokens WHERE id = ?")
            for id in ids {
                if let name = try statement.bind(.integer(id)).first({ $0.text(0) }), let name { names[id] = name }
            }
            return names
        }
    }

    /// The enrolled reporter of each replica: its roster entry's, else (a replica bound before
    /// the roster) that of the token bound to it; the server's own replica is "server"; replicas
    /// neither names are absent. Never the name a change carries.
    public func enrolledReporters(of replicas: Set<ReplicaID>) throws -> [ReplicaID: String] {
        try withTokens { db in
            var names: [ReplicaID: String] = [:]
            let roster = try db.cached("SELECT reporter FROM roster WHERE replica = ? AND sig IS NOT NULL")
            let statement = try db.cached("SELECT reporter FROM server_tokens WHERE replica = ? ORDER BY id LIMIT 1")
            for replica in replicas {
                if replica == store.replica {
                    names[replica] = SQLiteBackend.serverReporter
                } else if let name = try roster.bind(.blob(replica.bytes)).first({ $0.text(0) }), let name {
                    names[replica] = name
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
            try db.cached(
                "SELECT id, reporter, role, hash, replica, team FROM server_tokens WHERE lookup = ? AND revoked_ms IS NULL"
            )
            .bind(.blob(DeviceToken.lookup(hash))).forEach { row in
                // Every candidate is compared in full, in constant time.
                if DeviceToken.constantTimeEqual(row.bytes(3), hash), found == nil,
                    let role = Role(rawValue: row.text(2) ?? "")
                {
                    found = Device(
                        tokenID: row.int(0), reporter: row.text(1) ?? "", role: role,
                        replica: row.isNull(4) ? nil : ReplicaID(bytes: row.bytes(4)),
                        scope: try SQLiteBackend.scope(
                            db, token: row.int(0), reporter: row.text(1) ?? "", role: role, team: row.text(5)))
                }
            }
            return found
        }
    }

    public func bind(_ device: Device, to replica: ReplicaID, key: [UInt8]?) async throws -> BindResult {
        if let bound = device.replica, key == nil { return bound == replica ? .bound : .boundToOther(bound) }
        if device.replica == replica, try await offload({ [reader] in try reader.signedRosterEntry(of: replica) != nil }) {
            return .bound
        }
        // A replica the server already holds changes of may only be bound by a token of the same
        // reporter that was bound to it before (a re-enrolled device); never the server's own.
        let known = try await isKnownReplica(replica)
        let now = clock()
        // On the sync queue: a binding write waits for no batch's transaction there, and while
        // batches run it waits in line without holding a thread of the shared pool.
        return try await onSyncQueue {
            let current = try self.withTokenWriter { db in
                try db.cached("SELECT replica FROM server_tokens WHERE id = ?").bind(.integer(device.tokenID))
                    .first { $0.isNull(0) ? nil : ReplicaID(bytes: $0.bytes(0)) } ?? nil
            }
            if let current, current == replica || key == nil {
                // Bound already; a device bound before the roster enrolls its proved key now.
                if current == replica, let key, try self.rosterEntry(of: replica) == nil {
                    guard try self.replicaIsFree(replica, for: device.reporter, known: known) else { return .replicaTaken }
                    try self.store.raiseRosterEntry(
                        replica: replica, key: key, reporter: device.reporter, team: SQLiteBackend.rosterTeam(of: device),
                        status: .active, signedBy: self.rosterKey)
                    try self.announceAccessOfNewAuthors()
                }
                return current == replica ? .bound : .boundToOther(current)
            }
            guard try self.replicaIsFree(replica, for: device.reporter, known: known) else { return .replicaTaken }
            if let key {
                let held = try self.rosterEntry(of: replica)
                let team = SQLiteBackend.rosterTeam(of: device)
                if held?.status != .active || held?.reporter != device.reporter || held?.team != team {
                    try self.store.raiseRosterEntry(
                        replica: replica, key: key, reporter: device.reporter, team: team, status: .active,
                        signedBy: self.rosterKey)
                    try self.announceAccessOfNewAuthors()
                }
            }
            return try self.withTokenWriter { db -> BindResult in
                try db.transaction { () throws -> BindResult in
                    let boundNow =
                        try db.cached("SELECT replica FROM server_tokens WHERE id = ?").bind(
                            .integer(device.tokenID)
                        ).first { $0.isNull(0) ? nil : ReplicaID(bytes: $0.bytes(0)) } ?? nil
                    // Bound meanwhile by another request without a proved key: that binding stands.
                    if let boundNow, boundNow != current, key == nil {
                        return boundNow == replica ? .bound : .boundToOther(boundNow)
                    }
                    try db.cached("UPDATE server_tokens SET replica = ?, bound_ms = ? WHERE id = ?")
                        .bind(.blob(replica.bytes), .integer(now), .integer(device.tokenID)).run()
                    return .bound
                }
            }
        }
    }

    /// Whether `replica` may be bound for `reporter`: not the server's own, no token of another
    /// reporter bound to it, no roster entry of another reporter, and (for a replica the server
    /// holds changes of but no roster entry names) a token of the same reporter bound to it before.
    func replicaIsFree(_ replica: ReplicaID, for reporter: String, known: Bool) throws -> Bool {
        if replica == store.replica { return false }
        var sameReporter = false
        var otherReporter = false
        try withTokenWriter { db in
            try db.cached("SELECT DISTINCT reporter FROM server_tokens WHERE replica = ?").bind(.blob(replica.bytes))
                .forEach { row in
                    if row.text(0) == reporter { sameReporter = true } else { otherReporter = true }
                }
        }
        if otherReporter { return false }
        if let entry = try rosterEntry(of: replica) { return entry.reporter == reporter }
        return !known || sameReporter
    }

    /// The roster entry the server signed for `replica`.
    func rosterEntry(of replica: ReplicaID) throws -> RosterEntry? {
        try store.signedRosterEntry(of: replica)
    }

    public func enroll(reporter: String, role: Role) throws -> String {
        try enroll(reporter: reporter, role: role, device: nil)
    }

    /// Makes a token for `reporter`; with `device`, a device that will not sync before it leaves
    /// for the field: its replica (the hash of its key) goes into the roster and the token is
    /// bound to it. A reporter is in one team (`teams`: none is "default"), an analyst in
    /// `teams` (none: every team). Returns the token (shown once, stored hashed).
    public func enroll(
        reporter: String, role: Role = .reporter, device: (replica: ReplicaID, key: [UInt8])?, teams: [String] = []
    ) throws -> String {
        let name = reporter.trimmingCharacters(in: .whitespacesAndNewlines)
        guard Change.isValidReporterName(name) else {
            throw ServerCommandError(Change.reporterNameRule)
        }
        let team = try checkedTeams(teams, reporter: name, role: role)
        let token = DeviceToken.generate()
        let hash = DeviceToken.hash(token)
        let now = clock()
        if let device {
            guard device.key.count == 32 else {
                throw ServerCommandError(
                    "--key must be the device's 32-byte Ed25519 public key in unpadded base64url (43 characters)")
            }
            let derived = ReplicaID.derived(fromPublicKey: device.key)
            guard derived == device.replica else {
                throw ServerCommandError(
                    "replica \(device.replica.hex) is not the replica of key \(Base64URL.encode(device.key)) (that key's replica is \(derived.hex)); copy both from `outpost identity` on the device"
                )
            }
            guard try replicaIsFree(device.replica, for: name, known: try store.contiguousCounter(of: device.replica) > 0) else {
                throw ServerCommandError("replica \(device.replica.hex) is already enrolled for another reporter")
            }
            let held = try rosterEntry(of: device.replica)
            let rosterTeam = team ?? TeamName.defaultTeam
            if held?.status != .active || held?.reporter != name || held?.team != rosterTeam {
                try store.raiseRosterEntry(
                    replica: device.replica, key: device.key, reporter: name, team: rosterTeam, status: .active,
                    signedBy: rosterKey)
            }
        }
        try withTokenWriter { db in
            try db.transaction {
                try db.cached(
                    "INSERT INTO server_tokens (reporter, role, lookup, hash, created_ms, replica, bound_ms, team) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                ).bind(
                    .text(name), .text(role.rawValue), .blob(DeviceToken.lookup(hash)), .blob(hash), .integer(now),
                    device.map { SQLValue.blob($0.replica.bytes) } ?? .null, device == nil ? .null : .integer(now),
                    team.map(SQLValue.text) ?? .null
                ).run()
                if role == .analyst {
                    let id = db.lastInsertRowID
                    for analystTeam in Set(teams) {
                        try db.cached("INSERT INTO token_teams (token, team) VALUES (?, ?)").bind(
                            .integer(id), .text(analystTeam)
                        )
                        .run()
                    }
                }
            }
        }
        return token
    }

    public func revoke(reporter: String) throws -> Int {
        let name = reporter.trimmingCharacters(in: .whitespacesAndNewlines)
        let now = clock()
        let (count, bound) = try withTokenWriter { db -> (Int, Set<ReplicaID>) in
            let known =
                try db.cached("SELECT count(*) FROM server_tokens WHERE reporter = ?").bind(.text(name)).first { $0.int(0) } ?? 0
            guard known > 0 else { throw ServerCommandError("no tokens were ever enrolled for reporter \"\(name)\"") }
            var bound = Set<ReplicaID>()
            try db.cached("SELECT DISTINCT replica FROM server_tokens WHERE reporter = ? AND replica IS NOT NULL")
                .bind(.text(name)).forEach { bound.insert(ReplicaID(bytes: $0.bytes(0))) }
            try db.cached("UPDATE server_tokens SET revoked_ms = ? WHERE reporter = ? AND revoked_ms IS NULL")
                .bind(.integer(now), .text(name)).run()
            return (db.changes, bound)
        }
        // The reporter's devices are revoked in the roster too: the server refuses their new
        // changes, and devices learn it with their next sync.
        for entry in try store.roster()
        where entry.sig != nil && entry.status == .active && (entry.reporter == name || bound.contains(entry.replica)) {
            try store.raiseRosterEntry(
                replica: entry.replica, key: entry.key, reporter: entry.reporter, team: entry.team, status: .revoked,
                signedBy: rosterKey)
        }
        return count
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
