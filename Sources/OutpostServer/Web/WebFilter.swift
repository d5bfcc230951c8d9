import Foundation
import OutpostCore
import OutpostStore

/// The incidents page's filters, as the form sends them (`GET /web/incidents?…`): read, checked,
/// and turned into the `IncidentQuery` the API would answer for the same filters.
struct WebFilter: Hashable, Sendable {
    var eventType: String?
    var status: String?
    /// `YYYY-MM-DD`, on `occurred_at`, inclusive.
    var from: String?
    var to: String?
    var text: String?
    /// The creator's enrolled reporter name, as the API's `reporter`.
    var reporter: String?
    /// One of the analyst's teams, as the API's `team`.
    var team: String?
    /// West, south, east, north, as typed (all four or none).
    var bbox: BoundingBox?
    var bboxText: [String] = ["", "", "", ""]
    var hasConflicts = false
    var includeDeleted = false
    /// 1-based.
    var page = 1

    /// A filter value the form should not have sent; names the field and the catalogue message.
    struct Invalid: Error, Hashable, Sendable {
        var messageKey: String
        var field: String
    }

    static let keys: Set<String> = [
        "event_type", "status", "from", "to", "q", "reporter", "west", "south", "east", "north", "has_conflicts",
        "include_deleted", "page", "team",
    ]

    /// Reads the query string's parameters; empty values mean "any". Unknown keys are ignored
    /// (a bookmarked page of an older version still opens).
    init(parameters: [(String, String)]) throws(Invalid) {
        func value(_ key: String) throws(Invalid) -> String? {
            let values = parameters.filter { $0.0 == key }.map(\.1)
            guard values.count <= 1 else { throw Invalid(messageKey: "error_bad_choice", field: key) }
            guard let v = values.first?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        if let v = try value("event_type") {
            guard IncidentSchema.eventTypes.contains(v) else {
                throw Invalid(messageKey: "error_bad_choice", field: "event_type")
            }
            eventType = v
        }
        if let v = try value("status") {
            guard WebFilter.statuses.contains(v) else { throw Invalid(messageKey: "error_bad_choice", field: "status") }
            status = v
        }
        for key in ["from", "to"] {
            if let v = try value(key) {
                guard v.utf8.count == 10, DateText.problem(v) == nil else {
                    throw Invalid(messageKey: "error_bad_date", field: key)
                }
                if key == "from" { from = v } else { to = v }
            }
        }
        if let v = try value("q") {
            guard v.utf8.count <= 200 else { throw Invalid(messageKey: "error_too_long", field: "q") }
            text = v
        }
        if let v = try value("reporter") {
            guard v.utf8.count <= 100 else { throw Invalid(messageKey: "error_too_long", field: "reporter") }
            reporter = v
        }
        if let v = try value("team") {
            guard v.utf8.count <= 256 else { throw Invalid(messageKey: "error_too_long", field: "team") }
            team = v
        }
        let sides = ["west", "south", "east", "north"]
        var numbers: [Double] = []
        for (i, key) in sides.enumerated() {
            guard let v = try value(key) else { continue }
            guard v.utf8.count <= 32, let n = HTTPSupport.decimalNumber(v), n.isFinite else {
                throw Invalid(messageKey: "error_bad_number", field: key)
            }
            bboxText[i] = v
            numbers.append(n)
        }
        if !numbers.isEmpty {
            guard numbers.count == 4, (-180...180).contains(numbers[0]), (-180...180).contains(numbers[2]),
                (-90...90).contains(numbers[1]), (-90...90).contains(numbers[3]), numbers[1] <= numbers[3]
            else { throw Invalid(messageKey: "error_bad_area", field: "bbox") }
            bbox = BoundingBox(minLon: numbers[0], minLat: numbers[1], maxLon: numbers[2], maxLat: numbers[3])
        }
        hasConflicts = try value("has_conflicts") != nil
        includeDeleted = try value("include_deleted") != nil
        if let v = try value("page") {
            guard let n = Int(v), (1...1_000_000).contains(n) else { throw Invalid(messageKey: "error_bad_page", field: "page") }
            page = n
        }
    }

    static var statuses: [String] {
        if case .choice(let values)? = IncidentSchema.byName["status"]?.kind { return values }
        return []
    }

    /// The repository query for every match (no paging), the API's for the same filters: the
    /// dates on `occurred_at` in UTC days, `to` inclusive (as `occurred_to=YYYY-MM-DD`).
    var query: IncidentQuery {
        var query = IncidentQuery()
        query.eventTypes = eventType.map { [$0] }
        query.statuses = status.map { [$0] }
        query.text = text
        query.bbox = bbox
        query.includeDeleted = includeDeleted
        query.occurredFromMs = from.flatMap(DateText.epochMilliseconds)
        query.occurredToMs = to.flatMap(DateText.epochMilliseconds).map { $0 + 86_400_000 - 1 }
        query.hasConflicts = hasConflicts ? true : nil
        query.reporter = reporter
        query.teams = team.map { [$0] }
        query.limit = Int(Int32.max)
        return query
    }

    /// The UTC day (`YYYY-MM-DD`) of an `occurred_at` value.
    static func day(of occurred: String) -> String? {
        if occurred.utf8.count == 10 { return DateText.problem(occurred) == nil ? occurred : nil }
        guard let ms = DateText.epochMilliseconds(occurred) else { return nil }
        return String(DateText.rfc3339(epochMilliseconds: ms).prefix(10))
    }

    /// The filter as a query string (`?a=b&…`, "" when empty), without the page, for exports
    /// and pager links; `page` adds one.
    func queryString(page: Int? = nil) -> String {
        var pairs: [(String, String)] = []
        if let eventType { pairs.append(("event_type", eventType)) }
        if let status { pairs.append(("status", status)) }
        if let from { pairs.append(("from", from)) }
        if let to { pairs.append(("to", to)) }
        if let text { pairs.append(("q", text)) }
        if let reporter { pairs.append(("reporter", reporter)) }
        if let team { pairs.append(("team", team)) }
        if bbox != nil { for (k, v) in zip(["west", "south", "east", "north"], bboxText) { pairs.append((k, v)) } }
        if hasConflicts { pairs.append(("has_conflicts", "1")) }
        if includeDeleted { pairs.append(("include_deleted", "1")) }
        if let page, page > 1 { pairs.append(("page", String(page))) }
        guard !pairs.isEmpty else { return "" }
        return "?" + pairs.map { "\(WebForm.percentEncode($0.0))=\(WebForm.percentEncode($0.1))" }.joined(separator: "&")
    }
}
