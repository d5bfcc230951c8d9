import Foundation
import OutpostCore

/// One language's labels, formats and names, read from `Web/messages/<code>.json`: every text
/// the web pages show comes from here, so a new language is a new file.
public struct MessageCatalogue: Sendable {
    /// The language code (`en`, `fr`), as in `Accept-Language` and the `lang` attribute.
    public let code: String
    /// The language's own name, for the switch.
    public let name: String
    /// `ltr` or `rtl`.
    public let direction: String
    /// Labels by key.
    public let messages: [String: String]
    /// Event type names by value.
    public let eventTypes: [String: String]
    /// Status names by value.
    public let statuses: [String: String]
    /// Field labels by field name.
    public let fields: [String: String]
    /// Names of the other choice values by value.
    public let choices: [String: String]
    /// A date, with `{yyyy}`, `{mm}`, `{dd}`.
    let dateFormat: DateFormat
    /// A date and time (UTC), with `{yyyy}`, `{mm}`, `{dd}`, `{HH}`, `{MM}`.
    let dateTimeFormat: DateFormat
    let thousandsSeparator: String
    let decimalSeparator: String

    /// A catalogue that does not parse or lacks a part.
    public struct Malformed: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Reads a catalogue file's JSON text.
    public init(json text: String) throws {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw Malformed(description: "a message catalogue must be a JSON object")
        }
        func string(_ key: String) throws -> String {
            guard let value = object[key] as? String else { throw Malformed(description: "the catalogue lacks \"\(key)\"") }
            return value
        }
        func table(_ key: String) throws -> [String: String] {
            guard let value = object[key] as? [String: String] else {
                throw Malformed(description: "the catalogue's \"\(key)\" must be an object of strings")
            }
            return value
        }
        code = try string("language")
        name = try string("language_name")
        direction = try string("direction")
        dateFormat = DateFormat(try string("date_format"))
        dateTimeFormat = DateFormat(try string("datetime_format"))
        thousandsSeparator = try string("thousands_separator")
        decimalSeparator = try string("decimal_separator")
        messages = try table("messages")
        eventTypes = try table("event_types")
        statuses = try table("statuses")
        fields = try table("fields")
        choices = try table("choices")
    }

    /// The label for `key` (the key itself when missing, so a gap shows rather than hides).
    public func text(_ key: String) -> String { messages[key] ?? key }

    /// The label for `key` with each `{name}` replaced.
    public func text(_ key: String, _ values: [String: String]) -> String {
        var out = text(key)
        for (name, value) in values { out = out.replacingOccurrences(of: "{\(name)}", with: value) }
        return out
    }

    /// A whole number with the language's grouping.
    public func number(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += thousandsSeparator }
            out.append(c)
        }
        return (n < 0 ? "−" : "") + out
    }

    /// A decimal number with the language's decimal separator.
    public func decimal(_ x: Double) -> String {
        var text = String(x)
        if text.hasSuffix(".0") { text.removeLast(2) }
        return text.replacingOccurrences(of: ".", with: decimalSeparator)
    }

    /// A day, from its civil date.
    public func date(year: Int, month: Int, day: Int) -> String {
        dateFormat.fill(year: year, month: month, day: day, hour: 0, minute: 0)
    }

    /// A moment (ms since the epoch), in UTC.
    public func dateTime(epochMilliseconds ms: Int64) -> String {
        let days = Int((ms / 1000).quotientFloorDiv(86_400))
        let seconds = Int((ms / 1000) - Int64(days) * 86_400)
        let (y, m, d) = DateText.civil(daysSinceEpoch: days)
        return dateTimeFormat.fill(year: y, month: m, day: d, hour: seconds / 3600, minute: seconds / 60 % 60)
    }

    /// An incident's `occurred_at`: a bare date as a date, a date-time in UTC; other text as is.
    public func occurred(_ text: String) -> String {
        let b = Array(text.utf8)
        if b.count == 10, DateText.problem(text) == nil, let y = Int(text.prefix(4)), let m = Int(text.dropFirst(5).prefix(2)),
            let d = Int(text.dropFirst(8).prefix(2))
        {
            return date(year: y, month: m, day: d)
        }
        if let ms = DateText.epochMilliseconds(text) { return dateTime(epochMilliseconds: ms) }
        return text
    }

    /// A field's value as shown: choices by name, numbers grouped, dates formatted, lists joined.
    public func value(field: String, _ value: JSONValue) -> String {
        switch value {
        case .null: return ""
        case .string(let s):
            switch field {
            case "event_type": return eventTypes[s] ?? s
            case "status": return statuses[s] ?? s
            case "occurred_at": return occurred(s)
            default:
                if case .choice? = IncidentSchema.byName[field]?.kind { return choices[s] ?? s }
                return s
            }
        case .int(let i): return number(Int(clamping: i))
        case .double(let d): return decimal(d)
        case .bool(let b): return text(b ? "yes" : "no")
        case .array(let items): return items.map { self.value(field: field, $0) }.joined(separator: ", ")
        default: return value.serialized()
        }
    }

    /// The label of a field.
    public func fieldLabel(_ name: String) -> String { fields[name] ?? name }
}

extension Int64 {
    /// Floor division (rounds toward −∞), for days before the epoch.
    fileprivate func quotientFloorDiv(_ d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }
}
