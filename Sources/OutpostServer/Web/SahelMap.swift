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

    /// Where each incident goes; bins when more than `maxPoints` are placed.
    static func layout(_ incidents: [IncidentRecord]) -> Layout {
        var points: [Point] = []
        var unplaced = 0
        for incident in incidents {
            guard let lat = incident.fields["lat"]?.doubleValue, let lon = incident.fields["lon"]?.doubleValue,
                (west...east).contains(lon), (south...north).contains(lat)
            else {
                unplaced += 1
                continue
            }
            points.append(
                Point(
                    id: incident.id, x: ((lon - west) * scale * 10).rounded() / 10,
                    y: ((north - lat) * scale * 10).rounded() / 10,
                    title: incident.fields["title"]?.stringValue ?? ""))
        }
        guard points.count > maxPoints else { return Layout(placed: points.count, unplaced: unplaced, points: points, bins: []) }
        var counts: [Int: Int] = [:]
        let columns = Int(((east - west) / binDegrees).rounded(.up))
        let cell = binDegrees * scale
        for p in points {
            let key = Int(p.y / cell) * columns + Int(p.x / cell)
            counts[key, default: 0] += 1
        }
        let bins = counts.sorted { $0.key < $1.key }.map { key, count in
            Bin(x: (Double(key % columns) + 0.5) * cell, y: (Double(key / columns) + 0.5) * cell, count: count)
        }
        return Layout(placed: points.count, unplaced: unplaced, points: [], bins: bins)
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
    static func chart(_ incidents: [IncidentRecord]) -> Chart {
        var byWeek: [Int: Int] = [:]
        var undated = 0
        for incident in incidents {
            guard let occurred = incident.fields["occurred_at"]?.stringValue, let day = WebFilter.day(of: occurred),
                let ms = DateText.epochMilliseconds(day)
            else {
                undated += 1
                continue
            }
            let days = Int(ms / 86_400_000)
            // 1970-01-01 was a Thursday: Monday-start weeks are offset by 3 days.
            let monday = days - ((days + 3) % 7 + 7) % 7
            byWeek[monday, default: 0] += 1
        }
        guard let first = byWeek.keys.min(), let last = byWeek.keys.max() else { return Chart(bars: [], undated: undated) }
        let bars = stride(from: first, through: last, by: 7).map { Bar(weekStart: $0, count: byWeek[$0] ?? 0) }
        return Chart(bars: bars, undated: undated)
    }
}
