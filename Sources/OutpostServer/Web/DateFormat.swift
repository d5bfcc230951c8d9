/// A catalogue's date pattern (`{yyyy}`, `{mm}`, `{dd}`, `{HH}`, `{MM}` among literal text),
/// split once into its parts so that formatting a date only appends them (the incidents page
/// formats one per week of its chart).
struct DateFormat: Sendable {
    enum Part: Equatable, Sendable {
        case literal(String)
        case year, month, day, hour, minute
    }

    let parts: [Part]

    /// Splits `pattern`; a brace that opens no known placeholder stays literal text.
    init(_ pattern: String) {
        let names: [(String, Part)] = [
            ("{yyyy}", .year), ("{mm}", .month), ("{dd}", .day), ("{HH}", .hour), ("{MM}", .minute),
        ]
        var parts: [Part] = []
        var literal = ""
        var rest = Substring(pattern)
        while let first = rest.first {
            if first == "{", let (name, part) = names.first(where: { rest.hasPrefix($0.0) }) {
                if !literal.isEmpty { parts.append(.literal(literal)) }
                literal = ""
                parts.append(part)
                rest = rest.dropFirst(name.count)
            } else {
                literal.append(first)
                rest = rest.dropFirst()
            }
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }

    /// The pattern with its placeholders filled (month, day, hour and minute in two digits).
    func fill(year: Int, month: Int, day: Int, hour: Int, minute: Int) -> String {
        func two(_ n: Int, _ out: inout String) {
            if n < 10 { out.append("0") }
            out.append(String(n))
        }
        var out = ""
        out.reserveCapacity(20)
        for part in parts {
            switch part {
            case .literal(let text): out.append(text)
            case .year: out.append(String(year))
            case .month: two(month, &out)
            case .day: two(day, &out)
            case .hour: two(hour, &out)
            case .minute: two(minute, &out)
            }
        }
        return out
    }
}
