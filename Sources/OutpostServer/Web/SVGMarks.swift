/// The incidents page's many SVG marks (the map's points and bins, the chart's bars) written as
/// markup directly: thousands of them went through a Mustache context each, which cost most of
/// the page's time. Every text and attribute value is escaped as Mustache escapes `{{value}}`.
enum SVGMarks {
    /// The map's points: a link to each incident, its title as the tooltip.
    static func points(_ points: [SahelMap.Point]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(points.count * 120)
        for point in points {
            append("<a href=\"/web/incidents/", to: &out)
            appendEscaped(point.id, to: &out)
            append("\"><circle class=\"point\" cx=\"\(point.x)\" cy=\"\(point.y)\" r=\"5\"><title>", to: &out)
            appendEscaped(point.title, to: &out)
            append("</title></circle></a>", to: &out)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The map's bins: a circle each, sized by `radius`, its count as the tooltip.
    static func bins(_ bins: [SahelMap.Bin], radius: (Int) -> Double, countText: (Int) -> String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bins.count * 100)
        for bin in bins {
            append(
                "<circle class=\"bin\" cx=\"\(bin.x)\" cy=\"\(bin.y)\" r=\"\(radius(bin.count))\" data-count=\"\(bin.count)\"><title>",
                to: &out)
            appendEscaped(countText(bin.count), to: &out)
            append("</title></circle>", to: &out)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// One bar of the weekly chart.
    struct Bar {
        var x: Double
        var y: Double
        var width: Double
        var height: Double
        var count: Int
        var title: String
    }

    /// The chart's bars, their week and count as the tooltip.
    static func bars(_ bars: [Bar]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bars.count * 110)
        for bar in bars {
            append(
                "<rect class=\"bar\" x=\"\(bar.x)\" y=\"\(bar.y)\" width=\"\(bar.width)\" height=\"\(bar.height)\" data-count=\"\(bar.count)\"><title>",
                to: &out)
            appendEscaped(bar.title, to: &out)
            append("</title></rect>", to: &out)
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func append(_ text: String, to out: inout [UInt8]) { out.append(contentsOf: text.utf8) }

    /// `text` with `<`, `>`, `&`, `"` and `'` escaped (Mustache's set).
    static func appendEscaped(_ text: String, to out: inout [UInt8]) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "<"): append("&lt;", to: &out)
            case UInt8(ascii: ">"): append("&gt;", to: &out)
            case UInt8(ascii: "&"): append("&amp;", to: &out)
            case UInt8(ascii: "\""): append("&quot;", to: &out)
            case UInt8(ascii: "'"): append("&#39;", to: &out)
            default: out.append(byte)
            }
        }
    }
}
