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
    /// no label), else points (each placed match has its id and title in `labels`, by its index
    /// in `matches`).
    static func layout(_ matches: [IncidentOverview.Match], labels: [Int: IncidentLabel]) -> Layout {
        func position(_ lat: Double, _ lon: Double) -> (x: Double, y: Double) {
            (((lon - west) * scale * 10).rounded() / 10, ((north - lat) * scale * 10).rounded() / 10)
        }
        let placed = matches.reduce(0) { $0 + (region.contains(lat: $1.lat, lon: $1.lon) ? 1 : 0) }
        let unplaced = matches.count - placed
        guard placed > maxPoints else {
            var points: [Point] = []
            for (index, match) in matches.enumerated() {
                guard let lat = match.lat, let lon = match.lon, region.contains(lat: lat, lon: lon) else { continue }
                let (x, y) = position(lat, lon)
                let label = labels[index]
                points.append(Point(id: label?.id ?? "", x: x, y: y, title: label?.title ?? ""))
            }
            return Layout(placed: placed, unplaced: unplaced, points: points, bins: [])
        }
        // Counted in a flat array of cells (the map has a few thousand), not a dictionary.
        let columns = Int(((east - west) / binDegrees).rounded(.up))
        let rows = Int(((north - south) / binDegrees).rounded(.up)) + 1
        let cell = binDegrees * scale
        var counts = [Int](repeating: 0, count: columns * rows + columns)
        for match in matches {
            guard let lat = match.lat, let lon = match.lon, region.contains(lat: lat, lon: lon) else { continue }
            let (x, y) = position(lat, lon)
            counts[min(Int(y / cell), rows) * columns + min(Int(x / cell), columns - 1)] += 1
        }
        let bins = counts.indices.compactMap { key -> Bin? in
            guard counts[key] > 0 else { return nil }
            return Bin(x: (Double(key % columns) + 0.5) * cell, y: (Double(key / columns) + 0.5) * cell, count: counts[key])
        }
        return Layout(placed: placed, unplaced: unplaced, points: [], bins: bins)
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
        /// The Monday (days since the epoch) of the UTC week of `ms`.
        func monday(_ ms: Int64) -> Int {
            // The UTC day of `occurred_at`.
            let days = Int((ms - ((ms % 86_400_000) + 86_400_000) % 86_400_000) / 86_400_000)
            // 1970-01-01 was a Thursday: Monday-start weeks are offset by 3 days.
            return days - ((days + 3) % 7 + 7) % 7
        }
        var first = Int.max
        var last = Int.min
        var undated = 0
        for match in matches {
            guard let ms = match.occurredMs else {
                undated += 1
                continue
            }
            let week = monday(ms)
            first = min(first, week)
            last = max(last, week)
        }
        guard first <= last else { return Chart(bars: [], undated: undated) }
        // Counted in a flat array of weeks, not a dictionary (a chart of years has hundreds).
        var counts = [Int](repeating: 0, count: (last - first) / 7 + 1)
        for match in matches {
            guard let ms = match.occurredMs else { continue }
            counts[(monday(ms) - first) / 7] += 1
        }
        let bars = counts.enumerated().map { Bar(weekStart: first + $0.offset * 7, count: $0.element) }
        return Chart(bars: bars, undated: undated)
    }
}
