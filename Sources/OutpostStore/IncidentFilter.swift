import OutpostCore

/// Filters over incidents answered from the server's query indexes (`Store+QueryIndex`), in
/// (created ms, id) order. Every filter narrows; nil or empty means no filter.
public struct IncidentFilter: Hashable, Sendable {
    /// Include deleted incidents.
    public var includeDeleted = false
    /// Only incidents updated after this time (ms).
    public var updatedAfterMs: Int64?
    /// Only incidents inside this box (degrees: min lon, min lat, max lon, max lat; a min lon
    /// greater than the max lon crosses the antimeridian; edges included).
    public var bbox: (minLon: Double, minLat: Double, maxLon: Double, maxLat: Double)? {
        get { box.map { ($0[0], $0[1], $0[2], $0[3]) } }
        set { box = newValue.map { [$0.minLon, $0.minLat, $0.maxLon, $0.maxLat] } }
    }
    private var box: [Double]?
    /// Only these event types.
    public var eventTypes: Set<String>?
    /// Only these statuses.
    public var statuses: Set<String>?
    /// Text that must appear in a searched field, as `matchesText` decides (case-insensitive).
    public var text: String?
    /// Only incidents whose `occurred_at` is at or after this time (ms).
    public var occurredFromMs: Int64?
    /// Only incidents whose `occurred_at` is at or before this time (ms).
    public var occurredToMs: Int64?
    /// Only incidents with (true) or without (false) a conflict.
    public var hasConflicts: Bool?
    /// Only incidents created by one of these replicas.
    public var creators: Set<ReplicaID>?
    /// Only incidents of these teams (`record_access.team`; a record without a row is in none: fail closed).
    public var teams: Set<String>?
    /// Keyset cursor: start after this (created ms, id).
    public var after: (createdMs: Int64, id: String)? {
        get { cursor.map { ($0.ms, $0.id) } }
        set { cursor = newValue.map { Cursor(ms: $0.createdMs, id: $0.id) } }
    }
    private var cursor: Cursor?
    /// Skip this many matches (ignored with `after`).
    public var offset = 0
    /// Page size.
    public var limit = 100
    /// Text whose trigram matches reach this many rows is confirmed row by row (tuning; tests).
    public var textNarrowingLimit = 5_000
    /// A box holding this many points is tested row by row instead of in the R*Tree (tuning; tests).
    public var boxLookupLimit = 5_000
    /// The most matches a total counts for text answered row by row (`IncidentFilter.textCountCap`).
    public var textCountCap = IncidentFilter.textCountCap
    /// Answer from the query indexes held in memory (`QueryMirror`) rather than their tables
    /// (tuning; tests run both).
    public var readsMirror = true

    private struct Cursor: Hashable, Sendable {
        var ms: Int64
        var id: String
    }

    /// An unfiltered query.
    public init() {}

    /// The most matches a text filter's total counts when the text is common (its trigram
    /// matches are many) or the trigram index cannot narrow it: past this, the total is a lower
    /// bound (`IndexedIncidentPage.totalIsExact` false). Other filters' totals are always exact.
    public static let textCountCap = 2_000

    /// The text fields `text` searches.
    public static let searchedFields = ["title", "narrative", "place_name", "admin1", "admin2", "perpetrator", "target"]
}

/// One page of an indexed query.
public struct IndexedIncidentPage: Sendable {
    /// The page's incidents.
    public var incidents: [IncidentRecord]
    /// How many incidents match in all (a lower bound when `totalIsExact` is false).
    public var total: Int
    /// Whether `total` is every match (false: at least `total`; see `IncidentFilter.textCountCap`).
    public var totalIsExact = true
    /// Whether more follow the page.
    public var more: Bool
}
