import OutpostCore
import OutpostStore

/// One sync batch as the server applies it (already decoded, validated and authorised).
public struct SyncBatch: Sendable {
    /// The sending replica.
    public var replica: ReplicaID
    /// Its changes, by any author (each must verify against the roster).
    public var changes: [Change]
    /// Server log position already pulled.
    public var pullAfter: Int64
    /// Most changes to pull.
    public var pullLimit: Int
    /// About the most bytes to pull.
    public var pullMaxBytes: Int
    /// The change the sender says sits at `pullAfter` (checked: a restored server's log differs).
    public var pullAfterDot: Dot?
    /// The token (`server_tokens.id`) delivering the batch, recorded with every change it stores.
    public var deliveredBy: Int64?
    /// The highest roster version the sender holds: newer entries go back with the answer.
    public var rosterAfter: UInt64
    /// Whether the answer carries the server's sync summary.
    public var wantsSummary: Bool
    /// What the sender's token may read: only such changes are pulled.
    public var scope: AccessScope
    /// The access position the sender has notices up to; nil: it asks for none.
    public var accessAfter: Int64?

    /// Makes a batch.
    public init(
        replica: ReplicaID, changes: [Change], pullAfter: Int64, pullLimit: Int, pullMaxBytes: Int, pullAfterDot: Dot? = nil,
        deliveredBy: Int64? = nil, rosterAfter: UInt64 = 0, wantsSummary: Bool = false, scope: AccessScope = .teams([]),
        accessAfter: Int64? = nil
    ) {
        self.replica = replica
        self.changes = changes
        self.pullAfter = pullAfter
        self.pullLimit = pullLimit
        self.pullMaxBytes = pullMaxBytes
        self.pullAfterDot = pullAfterDot
        self.deliveredBy = deliveredBy
        self.rosterAfter = rosterAfter
        self.wantsSummary = wantsSummary
        self.scope = scope
        self.accessAfter = accessAfter
    }
}

/// What the server did with a batch and what it sends back.
public struct SyncOutcome: Sendable {
    /// What applying the pushed changes did.
    public var report: ApplyReport
    /// The highest n such that the server holds the sender's changes 1…n.
    public var ackedCounter: UInt64
    /// Pulled changes, wire-format JSON.
    public var pulled: [[UInt8]]
    /// Position to pull after next time.
    public var cursor: Int64
    /// Whether more changes wait after `cursor`.
    public var more: Bool
    /// The change at `cursor` in the server's log.
    public var cursorDot: Dot?
    /// Whether the sender's pull position did not match the log, so this pull started from 0.
    public var cursorReset: Bool
    /// The server's roster key.
    public var rosterKey: [UInt8]
    /// Roster entries newer than the batch's `rosterAfter`.
    public var roster: [RosterEntry]
    /// The server's sync summary, when asked for.
    public var summary: SyncSummary?
    /// Changes of who may read records after the batch's `accessAfter`, each for this token.
    public var access: [AccessNotice] = []
    /// The access position the notices reach (the next `accessAfter`).
    public var accessCursor: Int64?
}

/// The server's side of a sync: apply pushed changes in one transaction, then answer the pull.
public protocol SyncRepository: Sendable {
    /// Applies the batch's changes (committed before returning) and reads the pull.
    func sync(_ batch: SyncBatch) async throws -> SyncOutcome
    /// Whether the server already holds changes of `replica` or it is the server's own replica.
    func isKnownReplica(_ replica: ReplicaID) async throws -> Bool
}

/// The server's roster as analysts see it (`GET /v1/roster`).
public struct ServerRoster: Sendable {
    /// The server's 32-byte roster key.
    public var rosterKey: [UInt8]
    /// Every entry the server signed.
    public var entries: [RosterEntry]

    /// `{"roster_key": b64u, "roster": [entry…]}`.
    public var json: JSONValue {
        .object(["roster_key": .string(Base64URL.encode(rosterKey)), "roster": .array(entries.map(\.json))])
    }
}

/// A rectangle in degrees; `minLon > maxLon` crosses the antimeridian.
public struct BoundingBox: Hashable, Sendable {
    public var minLon: Double
    public var minLat: Double
    public var maxLon: Double
    public var maxLat: Double

    /// Whether a point lies inside (edges included).
    public func contains(lon: Double, lat: Double) -> Bool {
        guard lat >= minLat, lat <= maxLat else { return false }
        return minLon <= maxLon ? (lon >= minLon && lon <= maxLon) : (lon >= minLon || lon <= maxLon)
    }
}

/// Analyst filters over incidents. Results are ordered by (created, id).
public struct IncidentQuery: Hashable, Sendable {
    /// Only incidents updated after this time (ms).
    public var updatedAfterMs: Int64?
    /// Only incidents inside this box.
    public var bbox: BoundingBox?
    /// Only these event types.
    public var eventTypes: Set<String>?
    /// Only these statuses.
    public var statuses: Set<String>?
    /// Case-insensitive text that must appear in a text field.
    public var text: String?
    /// Include deleted incidents.
    public var includeDeleted = false
    /// Only incidents whose `occurred_at` (the incident's own date) is at or after this time (ms).
    public var occurredFromMs: Int64?
    /// Only incidents whose `occurred_at` is at or before this time (ms).
    public var occurredToMs: Int64?
    /// Only incidents with (true) or without (false) a conflict.
    public var hasConflicts: Bool?
    /// Only incidents created by this enrolled reporter (answered by `SQLiteBackend+Query`).
    public var reporter: String?
    /// Only incidents of these teams (`record_access.team`; answered by `SQLiteBackend+Query`).
    public var teams: Set<String>?
    /// Page size.
    public var limit = 100
    /// Skip this many matches (ignored with `after`).
    public var offset = 0
    /// Keyset cursor: start after this (created ms, id).
    public var after: IncidentCursor?

    /// An unfiltered query.
    public init() {}

    /// The text fields `q` searches.
    public static let searchedFields = ["title", "narrative", "place_name", "admin1", "admin2", "perpetrator", "target"]

    /// Whether a filter reads the incidents' fields (type, status, place or text), which only a
    /// scan of every incident can answer.
    public var filtersFields: Bool {
        eventTypes != nil || statuses != nil || bbox != nil || !(text ?? "").isEmpty || occurredFromMs != nil
            || occurredToMs != nil || hasConflicts != nil || reporter != nil || teams != nil
    }

    /// Whether an incident passes every filter (not the paging) except `reporter` and `teams`,
    /// which need more than the incident.
    public func matches(_ incident: IncidentRecord) -> Bool {
        if !includeDeleted && incident.deleted { return false }
        if let since = updatedAfterMs, incident.updatedMs <= since { return false }
        if let eventTypes {
            guard let t = incident.fields["event_type"]?.stringValue, eventTypes.contains(t) else { return false }
        }
        if let statuses {
            guard let s = incident.fields["status"]?.stringValue, statuses.contains(s) else { return false }
        }
        if let bbox {
            guard let lat = incident.fields["lat"]?.doubleValue, let lon = incident.fields["lon"]?.doubleValue,
                bbox.contains(lon: lon, lat: lat)
            else { return false }
        }
        if occurredFromMs != nil || occurredToMs != nil {
            guard let ms = incident.fields["occurred_at"]?.stringValue.flatMap(DateText.epochMilliseconds),
                ms >= occurredFromMs ?? .min, ms <= occurredToMs ?? .max
            else { return false }
        }
        if let hasConflicts, incident.conflict != hasConflicts { return false }
        if let text, !text.isEmpty {
            let needle = text.lowercased()
            let found = IncidentQuery.searchedFields.contains { field in
                incident.fields[field].flatMap(\.stringValue).map { IncidentQuery.holds($0, needle: needle) } ?? false
            }
            if !found { return false }
        }
        return true
    }

    /// Whether a field's text holds the lowercased `needle`, case-insensitively (the `q` rule).
    static func holds(_ text: String, needle: String) -> Bool {
        text.lowercased().contains(needle)
    }
}

/// A position in the (created ms, id) order of incidents.
public struct IncidentCursor: Hashable, Sendable {
    public var createdMs: Int64
    public var id: String

    /// The cursor as opaque URL-safe text.
    public var token: String { DeviceToken.base64URL(Array("\(createdMs):\(id)".utf8)) }

    /// Reads a cursor made by `token`.
    public init?(token: String) {
        guard let bytes = IncidentCursor.decodeBase64URL(token), let text = String(validating: bytes, as: UTF8.self),
            let colon = text.firstIndex(of: ":"), let ms = Int64(text[..<colon])
        else { return nil }
        let id = String(text[text.index(after: colon)...])
        guard !id.isEmpty else { return nil }
        self.createdMs = ms
        self.id = id
    }

    /// Makes a cursor.
    public init(createdMs: Int64, id: String) {
        self.createdMs = createdMs
        self.id = id
    }

    /// Whether an incident comes after the cursor in (created ms, id) order, ids byte for byte as in SQL.
    func precedes(_ incident: IncidentRecord) -> Bool {
        incident.createdMs > createdMs || (incident.createdMs == createdMs && RecordKey.idPrecedes(id, incident.id))
    }

    static func decodeBase64URL(_ text: String) -> [UInt8]? {
        var values: [UInt8] = []
        for c in text.utf8 {
            switch c {
            case 0x41...0x5A: values.append(c - 0x41)
            case 0x61...0x7A: values.append(c - 0x61 + 26)
            case 0x30...0x39: values.append(c - 0x30 + 52)
            case 0x2D: values.append(62)
            case 0x5F: values.append(63)
            default: return nil
            }
        }
        guard values.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < values.count {
            let chunk = values[i..<min(i + 4, values.count)]
            var n: UInt32 = 0
            for (k, v) in chunk.enumerated() { n |= UInt32(v) << (18 - 6 * UInt32(k)) }
            out.append(UInt8(n >> 16 & 0xFF))
            if chunk.count > 2 { out.append(UInt8(n >> 8 & 0xFF)) }
            if chunk.count > 3 { out.append(UInt8(n & 0xFF)) }
            i += 4
        }
        return out
    }
}

/// One page of incidents.
public struct IncidentPage: Sendable {
    /// The incidents on this page.
    public var incidents: [IncidentRecord]
    /// How many incidents match the filters in all (at least this many when `totalIsExact` is false).
    public var total: Int
    /// Whether `total` counts every match: false when a common text filter's count stopped at
    /// `IncidentFilter.textCountCap`.
    public var totalIsExact = true
    /// The cursor for the next page, when there is one.
    public var next: IncidentCursor?

    /// A page; with `hasMore`, the next one starts after its last incident.
    init(incidents: [IncidentRecord], total: Int, hasMore: Bool) {
        self.incidents = incidents
        self.total = total
        self.next = hasMore ? incidents.last.map { IncidentCursor(createdMs: $0.createdMs, id: $0.id) } : nil
    }
}

/// An incident with its conflicts and history.
public struct IncidentDetail: Sendable {
    public var incident: IncidentRecord
    /// Fields in conflict, every sibling, visible first.
    public var conflicts: [ConflictedField]
    /// Whether a visible delete is kept back by an edit its author had not seen.
    public var keptAliveByConcurrentEdit: Bool
    /// Every change to the incident.
    public var history: [HistoryEntry]
    /// The enrolled reporter of each author replica (the roster's name, or for a replica bound
    /// before the roster, its token's): the only names shown (a change's own `reporter` text is
    /// the author's claim, never displayed).
    public var enrolledReporters: [ReplicaID: String]
    /// Whether each history change verified and which token delivered it.
    public var provenance: [Dot: ChangeProvenance]
    /// The reporter of each delivering token.
    public var deliverers: [Int64: String]
    /// The record's version vector when it was read (what a review made from it has seen).
    public var version: VersionVector

    /// Makes a detail.
    public init(
        incident: IncidentRecord, conflicts: [ConflictedField], keptAliveByConcurrentEdit: Bool, history: [HistoryEntry],
        enrolledReporters: [ReplicaID: String], provenance: [Dot: ChangeProvenance] = [:], deliverers: [Int64: String] = [:],
        version: VersionVector = VersionVector()
    ) {
        self.version = version
        self.incident = incident
        self.conflicts = conflicts
        self.keptAliveByConcurrentEdit = keptAliveByConcurrentEdit
        self.history = history
        self.enrolledReporters = enrolledReporters
        self.provenance = provenance
        self.deliverers = deliverers
    }

    /// The name shown for changes of `replica`: its enrolled reporter, or null when unknown.
    public func reporterJSON(of replica: ReplicaID) -> JSONValue {
        enrolledReporters[replica].map(JSONValue.string) ?? .null
    }

    /// A history entry as JSON, with the enrolled reporter in place of the change's claim (as
    /// `reporter` and `author`), whether it verified, and the reporter whose token delivered it.
    public func historyJSON(_ entry: HistoryEntry) -> JSONValue {
        guard case .object(var object) = entry.json else { return entry.json }
        let dot = entry.change.dot
        object["replica"] = .string(dot.replica.hex)
        object["reporter"] = reporterJSON(of: dot.replica)
        object["author"] = reporterJSON(of: dot.replica)
        let origin = provenance[dot]
        object["verified"] = origin?.verified.map(JSONValue.bool) ?? .null
        object["delivered_by"] = origin?.deliveredBy.flatMap { deliverers[$0] }.map(JSONValue.string) ?? .null
        return .object(object)
    }
}

/// One field in conflict: every sibling, the visible one first.
public struct ConflictedField: Hashable, Sendable {
    public var field: String
    public var siblings: [Sibling]
}

/// Read access for analysts.
public protocol IncidentRepository: Sendable {
    /// A page of the incidents `scope` may read that match the query.
    func incidents(matching query: IncidentQuery, readableBy scope: AccessScope) async throws -> IncidentPage
    /// One incident with conflicts and history; nil when unknown or not readable by `scope`.
    func incidentDetail(id: String, readableBy scope: AccessScope) async throws -> IncidentDetail?
    /// Moves an incident to another team for `scope` (which must read both teams); the team it left.
    func move(incident id: String, to team: String, by scope: AccessScope) async throws -> String
    /// The server's roster key and every entry it signed.
    func roster() async throws -> ServerRoster
    /// Applies an analyst's edit (a review or a resolve) as a change signed by their analyst
    /// replica; the change as applied.
    func edit(_ edit: AnalystEdit) async throws -> Change
    /// Throws when the storage is not usable (health check).
    func checkHealth() async throws
    /// The teams `scope` reads, by name (for every team: those tokens are enrolled in).
    func teamNames(readableBy scope: AccessScope) async throws -> [String]
    /// Every incident `scope` may read that matches the query (its paging aside) by point and
    /// date, the query's page in full, and the matches inside `region` in full when at most
    /// `pointLimit` are.
    func incidentOverview(
        matching query: IncidentQuery, readableBy scope: AccessScope, region: IncidentOverview.Region, pointLimit: Int
    ) async throws -> IncidentOverview
}

extension IncidentRepository {
    /// The scope's own teams (a repository that knows no others).
    public func teamNames(readableBy scope: AccessScope) async throws -> [String] { (scope.teams ?? []).sorted() }

    /// The overview from every match read in full.
    public func incidentOverview(
        matching query: IncidentQuery, readableBy scope: AccessScope, region: IncidentOverview.Region, pointLimit: Int
    ) async throws -> IncidentOverview {
        try await overviewReadingEveryMatch(matching: query, readableBy: scope, region: region, pointLimit: pointLimit)
    }

    /// The overview from every match read in full (the way without query indexes).
    public func overviewReadingEveryMatch(
        matching query: IncidentQuery, readableBy scope: AccessScope, region: IncidentOverview.Region, pointLimit: Int
    ) async throws -> IncidentOverview {
        var all = query
        all.offset = 0
        all.after = nil
        all.limit = Int(Int32.max)
        let found = try await incidents(matching: all, readableBy: scope).incidents
        return IncidentOverview(all: found, query: query, region: region, pointLimit: pointLimit)
    }
}
