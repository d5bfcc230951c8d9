import OutpostCore
import OutpostStore

/// The incidents page's map and weekly chart, drawn on the server as SVG data (no script).
///
/// The map's projection must match `Tools/natural-earth-map.py`, which drew `Web/static/sahel.svg`:
/// plate carrée, x = (lon − west) × scale, y = (north − lat) × scale.
enum SahelMap {
    static let west = -18.0
    static let east = 25.0
    static let south = 8.0
    static let north = 26.0
    static let scale = 20.0
    static var width: Int { Int((east - west) * scale) }
    static var height: Int { Int((north - south) * scale) }
    /// Beyond this many placed incidents the map shows bins, not points.
    static let maxPoints = 2_000
    /// A bin's side, degrees.
    static let binDegrees = 0.5

    struct Point {
        var id: String
        var x: Double
        var y: Double
        var title: String
    }

    struct Bin {
        var x: Double
        var y: Double
        var count: Int
    }

    struct Layout {
        /// Incidents drawn, one by one or in bins.
        var placed: Int
        /// Incidents without coordinates or outside the map.
        var unplaced: Int
        var points: [Point]
        var bins: [Bin]
        var binned: Bool { !bins.isEmpty }
    }

    /// The map's region, for `IncidentOverview`.
    static let region = IncidentOverview.Region(west: west, south: south, east: east, north: north)

    /// Where each match goes; bins when more than `maxPoints` are placed (then the matches need
    /// no incident), else points (each placed match has its incident, for its id and title).
    static func layout(_ matches: [IncidentOverview.Match]) -> Layout {
        var points: [Point] = []
        var placed: [(x: Double, y: Double, incident: IncidentRecord?)] = []
        for match in matches {
            guard let lat = match.lat, let lon = match.lon, region.contains(lat: lat, lon: lon) else { continue }
            placed.append(
                (((lon - west) * scale * 10).rounded() / 10, ((north - lat) * scale * 10).rounded() / 10, match.incident))
        }
        let unplaced = matches.count - placed.count
        guard placed.count > maxPoints else {
            for p in placed {
                points.append(
                    Point(id: p.incident?.id ?? "", x: p.x, y: p.y, title: p.incident?.fields["title"]?.stringValue ?? ""))
            }
            return Layout(placed: placed.count, unplaced: unplaced, points: points, bins: [])
        }
        var counts: [Int: Int] = [:]
        let columns = Int(((east - west) / binDegrees).rounded(.up))
        let cell = binDegrees * scale
        for p in placed {
            let key = Int(p.y / cell) * columns + Int(p.x / cell)
            counts[key, default: 0] += 1
        }
        let bins = counts.sorted { $0.key < $1.key }.map { key, count in
            Bin(x: (Double(key % columns) + 0.5) * cell, y: (Double(key / columns) + 0.5) * cell, count: count)
        }
        return Layout(placed: placed.count, unplaced: unplaced, points: [], bins: bins)
    }

    /// A bin's circle radius: area grows with the count, capped at the bin's size.
    static func radius(_ count: Int, largest: Int) -> Double {
        let r = 2 + 8 * (Double(count) / Double(max(largest, 1))).squareRoot()
        return (r * 10).rounded() / 10
    }
}

/// Incidents per week (weeks start on Monday, UTC) of `occurred_at`.
enum WeeklyChart {
    static let width = 860
    static let height = 200
    static let left = 44
    static let top = 14
    static let base = 176

    struct Bar {
        /// Days since the epoch of the week's Monday.
        var weekStart: Int
        var count: Int
    }

    struct Chart {
        var bars: [Bar]
        var undated: Int
        var largest: Int { bars.map(\.count).max() ?? 0 }
    }

    /// Counts by week, every week between the first and the last (empty ones as zero).
    static func chart(_ matches: [IncidentOverview.Match]) -> Chart {
        var byWeek: [Int: Int] = [:]
        var undated = 0
        for match in matches {
            guard let ms = match.occurredMs else {
                undated += 1
                continue
            }
            // The UTC day of `occurred_at`.
            let days = Int((ms - ((ms % 86_400_000) + 86_400_000) % 86_400_000) / 86_400_000)
            // 1970-01-01 was a Thursday: Monday-start weeks are offset by 3 days.
            let monday = days - ((days + 3) % 7 + 7) % 7
            byWeek[monday, default: 0] += 1
        }
        guard let first = byWeek.keys.min(), let last = byWeek.keys.max() else { return Chart(bars: [], undated: undated) }
        let bars = stride(from: first, through: last, by: 7).map { Bar(weekStart: $0, count: byWeek[$0] ?? 0) }
        return Chart(bars: bars, undated: undated)
    }
}
