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

    /// The replicas whose enrolled reporter (as the incident page names authors) is `name`.
    func creators(ofReporter name: String, reader: Store) throws -> Set<ReplicaID> {
        let names = try enrolledReporters(of: try reader.knownReplicas().union([reader.replica]))
        return Set(names.filter { $0.value == name }.keys)
    }
}
