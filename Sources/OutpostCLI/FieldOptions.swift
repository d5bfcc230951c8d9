import ArgumentParser
import OutpostCore

/// One flag per incident field (`--event-type`, `--lat`, …) plus `--narrative-file`.
///
/// Values are kept as text and parsed by `IncidentSchema.value(field:text:)`, so an error names
/// the field and its rule. Every value flag takes the next argument as is (`--lat -12.5` works).
public struct FieldOptions: ParsableArguments {
    /// The `--title` text, when given.
    @Option(name: .customLong("title"), parsing: .unconditional, help: FieldOptions.help("title"))
    public var title: String?

    /// The `--narrative` text, when given.
    @Option(name: .customLong("narrative"), parsing: .unconditional, help: FieldOptions.help("narrative"))
    public var narrative: String?

    /// The `--event-type` text, when given.
    @Option(name: .customLong("event-type"), parsing: .unconditional, help: FieldOptions.help("event_type"))
    public var eventType: String?

    /// The `--occurred-at` text, when given.
    @Option(name: .customLong("occurred-at"), parsing: .unconditional, help: FieldOptions.help("occurred_at"))
    public var occurredAt: String?

    /// The `--date-precision` text, when given.
    @Option(name: .customLong("date-precision"), parsing: .unconditional, help: FieldOptions.help("date_precision"))
    public var datePrecision: String?

    /// The `--lat` text, when given.
    @Option(name: .customLong("lat"), parsing: .unconditional, help: FieldOptions.help("lat"))
    public var lat: String?

    /// The `--lon` text, when given.
    @Option(name: .customLong("lon"), parsing: .unconditional, help: FieldOptions.help("lon"))
    public var lon: String?

    /// The `--geo-precision` text, when given.
    @Option(name: .customLong("geo-precision"), parsing: .unconditional, help: FieldOptions.help("geo_precision"))
    public var geoPrecision: String?

    /// The `--place-name` text, when given.
    @Option(name: .customLong("place-name"), parsing: .unconditional, help: FieldOptions.help("place_name"))
    public var placeName: String?

    /// The `--admin1` text, when given.
    @Option(name: .customLong("admin1"), parsing: .unconditional, help: FieldOptions.help("admin1"))
    public var admin1: String?

    /// The `--admin2` text, when given.
    @Option(name: .customLong("admin2"), parsing: .unconditional, help: FieldOptions.help("admin2"))
    public var admin2: String?

    /// The `--killed` text, when given.
    @Option(name: .customLong("killed"), parsing: .unconditional, help: FieldOptions.help("killed"))
    public var killed: String?

    /// The `--injured` text, when given.
    @Option(name: .customLong("injured"), parsing: .unconditional, help: FieldOptions.help("injured"))
    public var injured: String?

    /// The `--abducted` text, when given.
    @Option(name: .customLong("abducted"), parsing: .unconditional, help: FieldOptions.help("abducted"))
    public var abducted: String?

    /// The `--displaced` text, when given.
    @Option(name: .customLong("displaced"), parsing: .unconditional, help: FieldOptions.help("displaced"))
    public var displaced: String?

    /// The `--perpetrator` text, when given.
    @Option(name: .customLong("perpetrator"), parsing: .unconditional, help: FieldOptions.help("perpetrator"))
    public var perpetrator: String?

    /// The `--target` text, when given.
    @Option(name: .customLong("target"), parsing: .unconditional, help: FieldOptions.help("target"))
    public var target: String?

    /// The `--source-type` text, when given.
    @Option(name: .customLong("source-type"), parsing: .unconditional, help: FieldOptions.help("source_type"))
    public var sourceType: String?

    /// The `--confidence` text, when given.
    @Option(name: .customLong("confidence"), parsing: .unconditional, help: FieldOptions.help("confidence"))
    public var confidence: String?

    /// The `--sensitivity` text, when given.
    @Option(name: .customLong("sensitivity"), parsing: .unconditional, help: FieldOptions.help("sensitivity"))
    public var sensitivity: String?

    /// The `--status` text, when given.
    @Option(name: .customLong("status"), parsing: .unconditional, help: FieldOptions.help("status"))
    public var status: String?

    /// The `--review-note` text, when given.
    @Option(name: .customLong("review-note"), parsing: .unconditional, help: FieldOptions.help("review_note"))
    public var reviewNote: String?

    /// The `--duplicate-of` text, when given.
    @Option(name: .customLong("duplicate-of"), parsing: .unconditional, help: FieldOptions.help("duplicate_of"))
    public var duplicateOf: String?

    /// The `--narrative-file` path, when given.
    @Option(
        name: .customLong("narrative-file"),
        help: ArgumentHelp("Read the narrative from a file (`-` for standard input).", valueName: "path"))
    public var narrativeFile: String?

    /// Makes empty options.
    public init() {}

    /// What each field holds, in words, for its flag's help line.
    static let descriptions: [String: String] = [
        "title": "A short headline for the incident",
        "narrative": "What happened, in your own words",
        "event_type": "The kind of event",
        "occurred_at": "When it happened",
        "date_precision": "How exact --occurred-at is",
        "lat": "Latitude in decimal degrees, north positive",
        "lon": "Longitude in decimal degrees, east positive",
        "geo_precision": "How exact --lat and --lon are",
        "place_name": "The town, village or site",
        "admin1": "The region or province, the first administrative level",
        "admin2": "The district, the second administrative level",
        "killed": "How many people were killed",
        "injured": "How many people were injured",
        "abducted": "How many people were abducted",
        "displaced": "How many people were displaced",
        "perpetrator": "Who carried it out, as far as known",
        "target": "Who or what was targeted",
        "source_type": "Where the information comes from",
        "confidence": "How sure you are of the report",
        "sensitivity": "How carefully the report must be handled",
        "status": "Where the report stands in review",
        "review_note": "Why the review gave its status",
        "duplicate_of": "The incident this one repeats (its id)",
    ]

    /// The help line of a field's flag: what it holds, then its rule.
    static func help(_ field: String) -> ArgumentHelp {
        guard let spec = IncidentSchema.byName[field] else { return ArgumentHelp() }
        let rule: String
        switch spec.kind {
        case .text(let min, let max, _): rule = min > 0 ? "text, \(min) to \(max) characters" : "text, up to \(max) characters"
        case .choice(let options): rule = "one of: " + options.joined(separator: ", ")
        case .integer(let range): rule = "a whole number from \(range.lowerBound) to \(range.upperBound)"
        case .number(let range): rule = "a number from \(Int(range.lowerBound)) to \(Int(range.upperBound))"
        case .dateTime: rule = "YYYY-MM-DD or an RFC 3339 date-time such as 2026-03-01T14:30:00Z"
        }
        let what = descriptions[field] ?? "The \(field.replacingUnderscores)"
        let pairing = field == "lat" ? "; give --lon with it" : field == "lon" ? "; give --lat with it" : ""
        return ArgumentHelp("\(what) (\(rule))\(pairing).", valueName: spec.isNumeric ? "n" : "value")
    }

    /// The flags given, as (field name, text) pairs in schema order.
    public var texts: [(field: String, text: String)] {
        let all: [(String, String?)] = [
            ("title", title),
            ("narrative", narrative),
            ("event_type", eventType),
            ("occurred_at", occurredAt),
            ("date_precision", datePrecision),
            ("lat", lat),
            ("lon", lon),
            ("geo_precision", geoPrecision),
            ("place_name", placeName),
            ("admin1", admin1),
            ("admin2", admin2),
            ("killed", killed),
            ("injured", injured),
            ("abducted", abducted),
            ("displaced", displaced),
            ("perpetrator", perpetrator),
            ("target", target),
            ("source_type", sourceType),
            ("confidence", confidence),
            ("sensitivity", sensitivity),
            ("status", status),
            ("review_note", reviewNote),
            ("duplicate_of", duplicateOf),
        ]
        return all.compactMap { pair in pair.1.map { (field: pair.0, text: $0) } }
    }

    /// Whether any field flag (or `--narrative-file`) was given.
    public var isEmpty: Bool { texts.isEmpty && narrativeFile == nil }

    public mutating func validate() throws {
        if narrative != nil && narrativeFile != nil {
            throw ArgumentParser.ValidationError("give either --narrative or --narrative-file, not both")
        }
    }

    /// Parses every given flag by its field's rule; `readFile` reads `--narrative-file`.
    public func writes(readFile: (String) throws(CLIError) -> [UInt8] = FileInput.read) throws(CLIError) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        var problems: [String] = []
        for (field, text) in texts {
            do { out[field] = try IncidentSchema.value(field: field, text: text) } catch { problems.append(error.description) }
        }
        if let narrativeFile {
            let bytes = try readFile(narrativeFile)
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw CLIError(.invalidInput, "narrative: the file \(narrativeFile) is not valid UTF-8 text")
            }
            do { out["narrative"] = try IncidentSchema.value(field: "narrative", text: text) } catch {
                problems.append(error.description)
            }
        }
        if !problems.isEmpty { throw CLIError(.invalidInput, problems.joined(separator: "; ")) }
        return out
    }
}

extension String {
    /// The name with spaces for underscores, for help text.
    var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}
