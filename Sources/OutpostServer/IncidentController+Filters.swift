import OutpostCore

/// The list filters answered from the query indexes: the incident's date, conflicts, reporter, team.
extension IncidentController {
    /// Reads `occurred_from`, `occurred_to`, `has_conflicts`, `reporter` and `team` into `query`.
    func parseIndexedFilters(
        single: (String) throws(APIError) -> String?, into query: inout IncidentQuery
    ) throws(APIError) {
        func date(_ key: String, endOfDay: Bool) throws(APIError) -> Int64? {
            guard let text = try single(key) else { return nil }
            guard let ms = DateText.epochMilliseconds(text) else {
                throw APIError.badRequest(
                    "invalid_query", "\(key) must be a date (YYYY-MM-DD) or an RFC 3339 date-time, years 1900–2100", field: key)
            }
            // A plain date as the upper bound takes in its whole day (UTC).
            return endOfDay && text.utf8.count == 10 ? ms + 86_400_000 - 1 : ms
        }
        query.occurredFromMs = try date("occurred_from", endOfDay: false)
        query.occurredToMs = try date("occurred_to", endOfDay: true)
        if let flag = try single("has_conflicts") {
            switch flag {
            case "true": query.hasConflicts = true
            case "false": query.hasConflicts = false
            default: throw APIError.badRequest("invalid_query", "has_conflicts must be true or false", field: "has_conflicts")
            }
        }
        // A name no reporter or team has matches nothing; only the size is checked.
        if let reporter = try single("reporter") {
            guard (1...Change.maxReporterBytes).contains(reporter.utf8.count) else {
                throw APIError.badRequest(
                    "invalid_query", "reporter must be 1–\(Change.maxReporterBytes) bytes (UTF-8)", field: "reporter")
            }
            query.reporter = reporter
        }
        if let team = try single("team") {
            guard (1...256).contains(team.utf8.count) else {
                throw APIError.badRequest("invalid_query", "team must be 1–256 bytes (UTF-8)", field: "team")
            }
            query.teams = [team]
        }
    }
}
