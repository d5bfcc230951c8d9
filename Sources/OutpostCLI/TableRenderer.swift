/// Renders rows of text as aligned columns separated by two spaces.
public struct TableRenderer {
    /// Column titles.
    public var header: [String]
    /// Widest a column may be (longer cells are cut with `…`); nil for no limit.
    public var maxWidths: [Int?]

    /// Makes a renderer.
    public init(header: [String], maxWidths: [Int?] = []) {
        self.header = header
        self.maxWidths = maxWidths
    }

    /// The table as text, one line per row after the header, each ending in a newline.
    public func render(_ rows: [[String]]) -> String {
        let cut = rows.map { row in row.enumerated().map { TableRenderer.fit($0.element, to: limit($0.offset)) } }
        var widths = header.map(\.count)
        for row in cut {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        var out = ""
        for row in [header] + cut {
            var line = ""
            for (i, cell) in row.enumerated() {
                if i > 0 { line += "  " }
                line += cell
                if i < row.count - 1 { line += String(repeating: " ", count: max(0, widths[i] - cell.count)) }
            }
            while line.last == " " { line.removeLast() }
            out += line + "\n"
        }
        return out
    }

    private func limit(_ column: Int) -> Int? { column < maxWidths.count ? maxWidths[column] : nil }

    /// One line of at most `width` characters: line breaks become spaces, overlong text ends in `…`.
    public static func fit(_ text: String, to width: Int?) -> String {
        var single = text
        if single.contains(where: \.isNewline) { single = String(single.map { $0.isNewline ? " " : $0 }) }
        guard let width, single.count > width, width > 1 else { return single }
        return String(single.prefix(width - 1)) + "…"
    }
}
