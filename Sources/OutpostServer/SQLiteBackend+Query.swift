import OutpostCore
import OutpostStore

/// Analysts' filtered queries from the store's query indexes (`Store+QueryIndex`).
extension SQLiteBackend {
    /// The page `query` selects, answered from the query indexes of `reader`; nil when the store
    /// has none (then the caller scans).
    func indexedIncidents(_ query: IncidentQuery, reader: Store) throws -> IncidentPage? {
        try indexedIncidents(query, filter: try filter(for: query, reader: reader), reader: reader)
    }

    /// The page of `filter` (made by `filter(for:reader:)` from `query`) from the query indexes.
    func indexedIncidents(_ query: IncidentQuery, filter: IncidentFilter, reader: Store) throws -> IncidentPage? {
        let needle = (query.text ?? "").lowercased()
        guard let page = try reader.indexedIncidents(filter, textMatches: { IncidentQuery.holds($0, needle: needle) }) else {
            return nil
        }
        var out = IncidentPage(incidents: page.incidents, total: page.total, hasMore: page.more)
        out.totalIsExact = page.totalIsExact
        return out
    }

    /// The index filter of `query`.
    func filter(for query: IncidentQuery, reader: Store) throws -> IncidentFilter {
        var filter = IncidentFilter()
        filter.includeDeleted = query.includeDeleted
        filter.updatedAfterMs = query.updatedAfterMs
        filter.bbox = query.bbox.map { ($0.minLon, $0.minLat, $0.maxLon, $0.maxLat) }
        filter.eventTypes = query.eventTypes
        filter.statuses = query.statuses
        filter.text = query.text
        filter.occurredFromMs = query.occurredFromMs
        filter.occurredToMs = query.occurredToMs
        filter.hasConflicts = query.hasConflicts
        filter.teams = query.teams
        if let reporter = query.reporter { filter.creators = try creators(ofReporter: reporter, reader: reader) }
        filter.after = query.after.map { ($0.createdMs, $0.id) }
        filter.offset = query.offset
        filter.limit = query.limit
        return filter
    }

    /// The overview from the query indexes (every match read as its index entry; in full only
    /// the page and the points), else from every match read in full.
    public func incidentOverview(
        matching query: IncidentQuery, readableBy scope: AccessScope, region: IncidentOverview.Region, pointLimit: Int
    ) async throws -> IncidentOverview {
        let indexed = try await offload { [self, reader] () throws -> IncidentOverview? in
            // The scope's teams narrow the query's, as in `incidents(matching:readableBy:)`.
            var query = query
            if let teams = scope.teams {
                let asked = query.teams.map { $0.intersection(teams) } ?? teams
                if asked.isEmpty { return IncidentOverview() }
                query.teams = asked
            }
            let needle = (query.text ?? "").lowercased()
            let found = try reader.indexedOverview(
                try filter(for: query, reader: reader), textMatches: { IncidentQuery.holds($0, needle: needle) },
                wanted: { matches in
                    let inside = matches.filter { region.contains(lat: $0.lat, lon: $0.lon) }
                    return inside.count <= pointLimit ? inside.map(\.rowid) : []
                })
            guard let found else { return nil }
            var labels: [Int: IncidentLabel] = [:]
            if !found.labels.isEmpty {
                for (index, match) in found.matches.enumerated() {
                    if let label = found.labels[match.rowid] { labels[index] = label }
                }
            }
            return IncidentOverview(
                matches: found.matches.map { IncidentOverview.Match(lat: $0.lat, lon: $0.lon, occurredMs: $0.occurredMs) },
                labels: labels, page: found.page)
        }
        if let indexed { return indexed }
        return try await overviewReadingEveryMatch(matching: query, readableBy: scope, region: region, pointLimit: pointLimit)
    }

    /// Reads the query indexes into memory now (`QueryMirror`), so that no analyst's first query
    /// waits for it (the server once it listens).
    public func warmQueryMirror() async throws {
        try await offload { [reader] in try reader.warmQueryMirror() }
    }

    /// The teams `scope` reads: its own, or for every team those of the enrolled tokens and
    /// "default" (the team of a reporter enrolled without one).
    public func teamNames(readableBy scope: AccessScope) async throws -> [String] {
        if let teams = scope.teams { return teams.sorted() }
        return try await offload { [self] in
            try withTokens { db in
                var names: Set<String> = ["default"]
                try db.cached("SELECT team FROM server_tokens WHERE team IS NOT NULL UNION SELECT team FROM token_teams")
                    .forEach { if let team = $0.text(0) { names.insert(team) } }
                return names.sorted()
            }
        }
    }

    /// The replicas whose enrolled reporter (as the incident page names authors) is `name`.
    func creators(ofReporter name: String, reader: Store) throws -> Set<ReplicaID> {
        let names = try enrolledReporters(of: try reader.knownReplicas().union([reader.replica]))
        return Set(names.filter { $0.value == name }.keys)
    }
}
