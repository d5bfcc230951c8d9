import Foundation
import OutpostCore
import OutpostStore
import OutpostSync

/// Teams on the server (issue 14): tokens' teams, the `record_access` rows kept after every
/// apply, pulls filtered to what the token may read, access notices, and moves.
extension SQLiteBackend {
    /// Most access notices per sync answer.
    static let noticeLimit = 1000
    /// Log rows one pull looks at, as a multiple of its limit, before it answers with `more`.
    static let scanFactor = 20

    /// What a pull sends back: changes, positions and access notices.
    struct PullAnswer {
        var changes: [[UInt8]]
        var cursor: Int64
        var more: Bool
        var access: [AccessNotice]
        var accessCursor: Int64
    }

    // MARK: Tokens

    /// The scope of a token row (inside a read of the token table).
    static func scope(_ db: Database, token: Int64, reporter: String, role: Role, team: String?) throws -> AccessScope {
        switch role {
        case .admin:
            return .allTeams
        case .reporter:
            return .reporter(name: reporter, team: team ?? TeamName.defaultTeam)
        case .analyst:
            var teams = Set<String>()
            try db.cached("SELECT team FROM token_teams WHERE token = ?").bind(.integer(token)).forEach {
                teams.insert($0.text(0) ?? "")
            }
            return teams.isEmpty ? .allTeams : .teams(teams)
        }
    }

    /// The team the roster entries of `device`'s replicas carry: a reporter's own, else "default".
    static func rosterTeam(of device: Device) -> String {
        if case .reporter(_, let team) = device.scope { return team }
        return TeamName.defaultTeam
    }

    /// The team to store with a new token (`server_tokens.team`): a reporter's one team, checked
    /// against its active tokens; nil for analysts (their teams go to `token_teams`) and admins.
    func checkedTeams(_ teams: [String], reporter: String, role: Role) throws -> String? {
        for team in teams where !TeamName.isValid(team) {
            throw ServerCommandError("--team \"\(team)\": \(TeamName.rule)")
        }
        switch role {
        case .admin:
            guard teams.isEmpty else {
                throw ServerCommandError("an admin reads every team: --team is for reporters and analysts")
            }
            return nil
        case .analyst:
            return nil
        case .reporter:
            guard Set(teams).count <= 1 else {
                throw ServerCommandError("a reporter belongs to one team: give --team once")
            }
            let team = teams.first ?? TeamName.defaultTeam
            let held = try withTokens { db -> Set<String> in
                var out = Set<String>()
                try db.cached(
                    "SELECT DISTINCT coalesce(team, ?) FROM server_tokens WHERE reporter = ? AND role = 'reporter' AND revoked_ms IS NULL"
                ).bind(.text(TeamName.defaultTeam), .text(reporter)).forEach { out.insert($0.text(0) ?? "") }
                return out
            }
            if let other = held.subtracting([team]).sorted().first {
                throw ServerCommandError(
                    "\(reporter) is in team \(other); a reporter belongs to one team (revoke \(reporter) first to enroll them in team \(team))"
                )
            }
            return team
        }
    }

    // MARK: record_access

    /// Makes the missing `record_access` rows of `records` and updates whether each is
    /// restricted (a change of it takes the next access position): call after every apply
    /// that is not a sync batch (a parcel), with the records it touched.
    public func updateAccess(touching records: Set<RecordKey>) throws {
        try store.updateServerAccess(records, serverReporter: SQLiteBackend.serverReporter)
    }

    /// `updateAccess(touching:)` for every record with a change applied after log position `seq`.
    public func updateAccess(appliedAfter seq: Int64) throws {
        try updateAccess(touching: try store.recordsApplied(afterSeq: seq))
    }

    /// Makes the rows a crash between an apply and its access update left missing (at start,
    /// before any pull could have skipped their records).
    @discardableResult
    func repairAccess() throws -> Int {
        let missing = try store.recordsWithoutServerAccess()
        try store.updateServerAccess(missing, serverReporter: SQLiteBackend.serverReporter)
        return missing.count
    }

    /// Makes the rows of records whose creator the server has just come to know (a roster entry
    /// made at binding), with an access position each: pulls skipped their changes while they
    /// had no row, so the notices bring them to every device that may read them.
    func announceAccessOfNewAuthors() throws {
        try store.updateServerAccess(
            try store.recordsWithoutServerAccess(), serverReporter: SQLiteBackend.serverReporter, announce: true)
    }

    // MARK: Pull

    /// The pull of `batch` (inside the sync lock): first the access notices after its
    /// `accessAfter` (a readable one brings every change of its record), then the changes after
    /// its pull position that its scope may read. The cursor goes past the skipped ones; at most
    /// `scanFactor` times the limit rows are looked at before the answer says `more`.
    func pull(_ batch: SyncBatch, reset: Bool) throws -> PullAnswer {
        let limit = batch.pullLimit
        // Read first: a position handed out after it is sent next time.
        let accessEnd = try store.serverAccessPosition()
        var answer = PullAnswer(
            changes: [], cursor: reset ? 0 : batch.pullAfter, more: false, access: [], accessCursor: accessEnd)
        guard limit > 0 else {
            // A request that pulls nothing (another is pulling) gets no notices either.
            answer.accessCursor = batch.accessAfter ?? accessEnd
            answer.more = answer.cursor < (try store.lastSeq())
            return answer
        }
        var bytes = 0
        if let after = batch.accessAfter, after < accessEnd {
            let rows = try store.serverAccessChanges(after: after, limit: SQLiteBackend.noticeLimit + 1)
            var reached = after
            for row in rows.prefix(SQLiteBackend.noticeLimit) where row.pos <= accessEnd {
                let readable = batch.scope.mayRead(row)
                if readable {
                    let changes = try store.appliedChanges(of: row.record, maxBytes: batch.pullMaxBytes).map(\.body)
                    let size = changes.reduce(0) { $0 + $1.count }
                    if !answer.access.isEmpty
                        && (bytes + size > batch.pullMaxBytes || answer.changes.count + changes.count > limit)
                    {
                        answer.more = true
                        break
                    }
                    answer.changes += changes
                    bytes += size
                }
                answer.access.append(
                    AccessNotice(record: row.record, team: row.team, restricted: row.restricted, readable: readable))
                reached = row.pos
            }
            if answer.more || rows.count > SQLiteBackend.noticeLimit && reached < accessEnd {
                answer.more = true
                answer.accessCursor = reached
            }
        }
        let room = limit - answer.changes.count
        if room > 0 && bytes < batch.pullMaxBytes {
            let pulled = try store.readableChanges(
                afterSeq: answer.cursor, excluding: batch.replica, limit: room, maxBytes: batch.pullMaxBytes - bytes,
                scanLimit: limit * SQLiteBackend.scanFactor, readable: batch.scope.mayRead)
            answer.changes += pulled.changes.map(\.body)
            answer.cursor = pulled.nextSeq
        }
        // More waits when the log goes past what this batch reached (cheap: max of the primary key).
        if answer.cursor < (try store.lastSeq()) { answer.more = true }
        return answer
    }

    // MARK: Move

    /// Moves incident `id` to `team` for `scope`, which must read the incident (else it is not
    /// found) and cover both its team and the new one; returns the team it left.
    public func move(incident id: String, to team: String, by scope: AccessScope) async throws -> String {
        try await onSyncQueue { try self.moveNow(incident: id, to: team, by: scope) }
    }

    /// `move` on the calling thread (the operator's `outpost-server move`).
    public func moveNow(incident id: String, to team: String, by scope: AccessScope) throws -> String {
        guard TeamName.isValid(team) else { throw MoveError.badTeam("team: \(TeamName.rule)") }
        guard RecordKey.isValidID(id) else { throw MoveError.notFound("the incident id \(RecordKey.idRule)") }
        return try syncLock.withLock {
            let record = RecordKey(id: id)
            let access = try store.serverAccess(of: record)
            guard let access, scope.mayRead(access), try store.incident(id: id) != nil else {
                throw MoveError.notFound("no incident with that id")
            }
            guard scope.covers(team: access.team), scope.covers(team: team) else {
                throw MoveError.forbidden("moving an incident needs a token of both its team and team \(team)")
            }
            guard let before = try store.moveServerRecord(record, to: team) else {
                throw MoveError.notFound("no incident with that id")
            }
            return before.team
        }
    }

    // MARK: The operator's whole view

    /// A page of every incident matching the query (the operator's view, every team).
    public func incidents(matching query: IncidentQuery) async throws -> IncidentPage {
        try await incidents(matching: query, readableBy: .allTeams)
    }

    /// One incident with conflicts and history, whichever its team; nil when unknown.
    public func incidentDetail(id: String) async throws -> IncidentDetail? {
        try await incidentDetail(id: id, readableBy: .allTeams)
    }
}
