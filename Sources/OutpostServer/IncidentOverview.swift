import OutpostCore
import OutpostStore

/// Every incident a query selects in the little the incidents page draws them by (point and
/// `occurred_at`), with one page of them in full and, when they are few, the id and title of
/// those inside a region (the map's points).
public struct IncidentOverview: Sendable {
    /// One match, as the map and the chart draw it (a plain value: a page may hold 100,000).
    public struct Match: Sendable {
        public var lat: Double?
        public var lon: Double?
        /// `occurred_at` in ms (nil: none, or not a date).
        public var occurredMs: Int64?

        public init(lat: Double?, lon: Double?, occurredMs: Int64?) {
            self.lat = lat
            self.lon = lon
            self.occurredMs = occurredMs
        }
    }

    /// A box in degrees, edges included (never across the antimeridian).
    public struct Region: Sendable {
        public var west: Double
        public var south: Double
        public var east: Double
        public var north: Double

        public init(west: Double, south: Double, east: Double, north: Double) {
            self.west = west
            self.south = south
            self.east = east
            self.north = north
        }

        /// Whether the point is inside.
        public func contains(lat: Double?, lon: Double?) -> Bool {
            guard let lat, let lon else { return false }
            return (west...east).contains(lon) && (south...north).contains(lat)
        }
    }

    /// Every match (its `count` is the total), in no particular order.
    public var matches: [Match] = []
    /// The id and title of the matches inside the region, by their index in `matches`, when at
    /// most `pointLimit` are (the map's points); else none.
    public var labels: [Int: IncidentLabel] = [:]
    /// The page the query asks for (its offset and limit), in (created, id) order.
    public var page: [IncidentRecord] = []

    public init(matches: [Match] = [], labels: [Int: IncidentLabel] = [:], page: [IncidentRecord] = []) {
        self.matches = matches
        self.labels = labels
        self.page = page
    }

    /// The overview built from every match in full (a repository without query indexes).
    public init(all: [IncidentRecord], query: IncidentQuery, region: Region, pointLimit: Int) {
        let inside = all.lazy.filter { region.contains(lat: $0.fields["lat"]?.doubleValue, lon: $0.fields["lon"]?.doubleValue) }
            .count
        for (index, incident) in all.enumerated() {
            let lat = incident.fields["lat"]?.doubleValue
            let lon = incident.fields["lon"]?.doubleValue
            matches.append(
                Match(
                    lat: lat, lon: lon,
                    occurredMs: incident.fields["occurred_at"]?.stringValue.flatMap(DateText.epochMilliseconds)))
            if inside <= pointLimit && region.contains(lat: lat, lon: lon) {
                labels[index] = IncidentLabel(id: incident.id, title: incident.fields["title"]?.stringValue)
            }
        }
        page = Array(all.dropFirst(query.offset).prefix(query.limit))
    }
}
