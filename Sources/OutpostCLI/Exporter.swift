import ArgumentParser
import OutpostCore
import OutpostStore

/// The formats `outpost export` writes.
public enum ExportFormat: String, CaseIterable, Sendable, ExpressibleByArgument {
    /// One `show --json` object per line.
    case ndjson
    /// RFC 4180 CSV: header `id` plus every field in schema order; text cells that a spreadsheet
    /// would run as a formula get a leading `'` (see `Exporter.writeCSVText`).
    case csv
    /// A GeoJSON FeatureCollection; Point geometry `[lon, lat]` when both are set, else null.
    case geojson
}

/// Writes incidents one at a time in an export format, so large stores stream.
public struct Exporter {
    /// The format written.
    public let format: ExportFormat
    private let out: OutputBuffer
    /// Incidents written so far.
    public private(set) var count = 0

    /// Makes an exporter writing to `output`.
    public init(format: ExportFormat, output: OutputBuffer) {
        self.format = format
        self.out = output
    }

    /// Writes what comes before the first incident.
    public mutating func begin() {
        switch format {
        case .ndjson: break
        case .csv: out.append("id," + IncidentSchema.fieldNames.joined(separator: ",") + "\r\n")
        case .geojson: out.append("{\"type\":\"FeatureCollection\",\"features\":[")
        }
    }

    /// Writes one incident (with its field conflicts, which only NDJSON carries).
    public mutating func write(_ record: IncidentRecord, conflicts: [(field: String, siblings: [Sibling])] = []) {
        switch format {
        case .ndjson:
            let object = IncidentJSON.object(record, conflicts: conflicts)
            out.append { bytes in
                object.write(to: &bytes)
                bytes.append(0x0A)
            }
        case .csv:
            out.append { bytes in Exporter.writeCSVRow(record, to: &bytes) }
        case .geojson:
            let feature = Exporter.feature(record)
            let first = count == 0
            out.append { bytes in
                if !first { bytes.append(UInt8(ascii: ",")) }
                bytes.append(0x0A)
                feature.write(to: &bytes)
            }
        }
        count += 1
    }

    /// Writes what comes after the last incident and flushes.
    public mutating func finish() {
        if format == .geojson { out.append(count == 0 ? "]}\n" : "\n]}\n") }
        out.flush()
    }

    /// A GeoJSON feature: properties are the fields plus `id`.
    public static func feature(_ record: IncidentRecord) -> JSONValue {
        var properties = record.fields
        properties["id"] = .string(record.id)
        var geometry = JSONValue.null
        if let lat = record.fields["lat"], let lon = record.fields["lon"], lat.doubleValue != nil, lon.doubleValue != nil {
            geometry = .object(["type": "Point", "coordinates": .array([lon, lat])])
        }
        return .object(["type": "Feature", "id": .string(record.id), "geometry": geometry, "properties": .object(properties)])
    }

    /// Appends one CSV record (CRLF-terminated): id then each field in schema order.
    public static func writeCSVRow(_ record: IncidentRecord, to bytes: inout [UInt8]) {
        writeCSVText(record.id, to: &bytes)
        for name in IncidentSchema.fieldNames {
            bytes.append(UInt8(ascii: ","))
            writeCSVValue(record.fields[name], to: &bytes)
        }
        bytes.append(contentsOf: [0x0D, 0x0A])
    }

    /// Appends a field's value as a CSV cell (nothing for an absent or null value); text goes
    /// through `writeCSVText`, numbers are written as numbers.
    public static func writeCSVValue(_ value: JSONValue?, to bytes: inout [UInt8]) {
        switch value {
        case nil, .null?: break
        case .string(let s)?: writeCSVText(s, to: &bytes)
        case .int(let i)?: JSONValue.writeInt(i, to: &bytes)
        case .double(let d)?: JSONValue.writeDouble(d, to: &bytes)
        case .bool(let b)?: bytes.append(contentsOf: (b ? "true" : "false").utf8)
        case let other?: writeCSVCell(other.serialized(), to: &bytes)
        }
    }

    /// Appends a text value as a CSV cell, neutralized by `CSVFormula.neutralized` (OWASP's rule):
    /// spreadsheet programs show `'=HYPERLINK(…)` as text and never run it. Numbers are not text
    /// and stay as they are (`writeCSVValue` writes `-0.04` as is).
    public static func writeCSVText(_ text: String, to bytes: inout [UInt8]) {
        writeCSVCell(CSVFormula.neutralized(text), to: &bytes)
    }

    /// Appends a CSV cell as it is, quoted (with `""` for `"`) when it holds a comma, quote or line break.
    public static func writeCSVCell(_ text: String, to bytes: inout [UInt8]) {
        let utf8 = text.utf8
        let needsQuotes = utf8.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 0x0A || $0 == 0x0D }
        guard needsQuotes else {
            bytes.append(contentsOf: utf8)
            return
        }
        bytes.append(UInt8(ascii: "\""))
        for byte in utf8 {
            if byte == UInt8(ascii: "\"") { bytes.append(byte) }
            bytes.append(byte)
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
