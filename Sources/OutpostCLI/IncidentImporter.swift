import Foundation
import OutpostCore
import OutpostStore

/// The formats `outpost import` reads.
public enum ImportFormat: String, Sendable, CaseIterable {
    /// One JSON object per line (a JSON array of objects is accepted too).
    case ndjson
    /// A header row of field names, then one incident per record.
    case csv

    /// The format by file extension (`.csv`, `.ndjson`, `.jsonl`, `.json`), else by content.
    public static func detect(path: String, bytes: [UInt8]) -> ImportFormat {
        let lower = path.lowercased()
        if lower.hasSuffix(".csv") { return .csv }
        if lower.hasSuffix(".ndjson") || lower.hasSuffix(".jsonl") || lower.hasSuffix(".json") { return .ndjson }
        var i = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
        if i < bytes.count, bytes[i] == UInt8(ascii: "{") || bytes[i] == UInt8(ascii: "[") { return .ndjson }
        return .csv
    }
}

/// One incident read from an import file, with the line it started on.
public struct ImportedRow: Hashable, Sendable {
    /// The 1-based line of the row (for a JSON array, the item number).
    public var line: Int
    /// The incident.
    public var input: IncidentInput
}

/// An invalid row: where it is and what is wrong with it.
public struct ImportProblem: Hashable, Sendable, CustomStringConvertible {
    /// The 1-based line (for a JSON array, the item number).
    public var line: Int
    /// What is wrong.
    public var message: String
    /// `line`, or `item` for the elements of a JSON array.
    public var unit: String = "line"

    public var description: String { "\(unit) \(line): \(message)" }
}

/// What an import file holds: valid rows, and a problem for each invalid row.
public struct ImportResult: Hashable, Sendable {
    /// Valid rows in file order.
    public var rows: [ImportedRow] = []
    /// Invalid rows (and file-level problems) in file order.
    public var problems: [ImportProblem] = []

    /// The incidents to import.
    public var inputs: [IncidentInput] { rows.map(\.input) }
}

/// Parses NDJSON and CSV import files into incidents, checking every row and naming its line.
public enum IncidentImporter {
    /// Keys of the export object that are read-only and ignored on import.
    static let exportOnlyKeys: Set<String> = ["deleted", "conflict", "conflicts", "created_at", "updated_at"]

    /// Parses `bytes` in `format`.
    public static func parse(_ bytes: [UInt8], format: ImportFormat) -> ImportResult {
        var result = bytes.withUnsafeBufferPointer { buffer in
            switch format {
            case .ndjson: return parseNDJSON(buffer)
            case .csv: return parseCSV(buffer)
            }
        }
        checkDuplicateIDs(&result)
        return result
    }

    // MARK: NDJSON

    /// Files from this size on are read in two halves at once, one per core.
    static let parallelParseBytes = 1 << 20

    /// Parses one JSON object per line; blank lines are skipped; a leading `[` reads a JSON array.
    static func parseNDJSON(_ buffer: UnsafeBufferPointer<UInt8>, parallelFrom: Int = parallelParseBytes) -> ImportResult {
        let n = buffer.count
        let start = CSVReader.hasBOM(buffer) ? 3 : 0
        var first = start
        while first < n, isSpace(buffer[first]) { first += 1 }
        if first < n, buffer[first] == UInt8(ascii: "[") {
            return parseJSONArray(UnsafeBufferPointer(rebasing: buffer[start...]))
        }
        // Split after the line feed nearest the middle; the second half's lines are numbered
        // from 1 and moved past the first half's lines afterwards.
        let middle = n - start >= parallelFrom ? lineEnd(buffer, from: start + (n - start) / 2) + 1 : n
        guard middle < n else { return parseLines(buffer, from: start, to: n).result }
        let bounds = [(start, middle), (middle, n)]
        var parsed = [(result: ImportResult, lines: Int)](repeating: (ImportResult(), 0), count: 2)
        parsed.withUnsafeMutableBufferPointer { out in
            let halves = HalvesInFlight(input: buffer, output: out)
            DispatchQueue.concurrentPerform(iterations: 2) { half in
                halves.output[half] = parseLines(halves.input, from: bounds[half].0, to: bounds[half].1)
            }
        }
        var result = parsed[0].result
        let offset = parsed[0].lines
        result.rows.reserveCapacity(result.rows.count + parsed[1].result.rows.count)
        for var row in parsed[1].result.rows {
            row.line += offset
            result.rows.append(row)
        }
        for var problem in parsed[1].result.problems {
            problem.line += offset
            result.problems.append(problem)
        }
        return result
    }

    /// Parses the lines in `buffer[from..<to]` (numbered from 1); also returns how many lines there were.
    private static func parseLines(_ buffer: UnsafeBufferPointer<UInt8>, from: Int, to n: Int) -> (
        result: ImportResult, lines: Int
    ) {
        var result = ImportResult()
        var i = from
        var line = 0
        var reader = IncidentJSONReader()
        while i < n {
            line += 1
            let end = min(lineEnd(buffer, from: i), n)
            let next = end + 1
            var start = i
            while start < end, isSpace(buffer[start]) { start += 1 }
            if start < end {
                let text = UnsafeBufferPointer(rebasing: buffer[start..<end])
                // The fast path takes rows that are flat, valid objects; any other row is parsed
                // and checked again by the general path, which explains what is wrong.
                if let row = reader.read(text) {
                    switch finish(id: row.id, fields: row.fields, checked: row.checkedNew, problems: []) {
                    case .success(let input): result.rows.append(ImportedRow(line: line, input: input))
                    case .failure(let problem): result.problems.append(ImportProblem(line: line, message: problem.message))
                    }
                    i = next
                    continue
                }
                do {
                    let value = try JSONParser.parse(text)
                    switch input(fromJSON: value) {
                    case .success(let input): result.rows.append(ImportedRow(line: line, input: input))
                    case .failure(let problem): result.problems.append(ImportProblem(line: line, message: problem.message))
                    }
                } catch {
                    result.problems.append(
                        ImportProblem(
                            line: line, message: "invalid JSON at column \(start - i + error.offset + 1): \(error.message)"))
                }
            }
            i = next
        }
        return (result, line)
    }

    private static func parseJSONArray(_ buffer: UnsafeBufferPointer<UInt8>) -> ImportResult {
        var result = ImportResult()
        let value: JSONValue
        do { value = try JSONParser.parse(buffer) } catch {
            result.problems.append(ImportProblem(line: 1, message: "the JSON array is not valid: \(error.description)"))
            return result
        }
        for (index, element) in (value.arrayValue ?? []).enumerated() {
            switch input(fromJSON: element) {
            case .success(let input): result.rows.append(ImportedRow(line: index + 1, input: input))
            case .failure(let problem):
                result.problems.append(ImportProblem(line: index + 1, message: problem.message, unit: "item"))
            }
        }
        return result
    }

    /// The row's problems, joined into one message.
    public struct RowProblem: Error, Hashable, Sendable {
        /// Every problem of the row, separated by `; `.
        public var message: String
    }

    /// One incident from a JSON object: `{"id"?, field: value, …}` or the export shape `{"id", "fields": {…}}`.
    public static func input(fromJSON value: JSONValue) -> Result<IncidentInput, RowProblem> {
        guard case .object(let object) = value else {
            return .failure(RowProblem(message: "expected a JSON object, not \(value.typeName)"))
        }
        var problems: [String] = []
        var id: String?
        switch object["id"] {
        case nil, .null?: break
        case .string(let s)?: id = s
        case let other?: problems.append("id: must be a string, not \(other.typeName)")
        }
        var source = object
        if case .object(let nested)? = object["fields"] {
            source = nested
            for key in object.keys.sorted() where key != "id" && key != "fields" && !exportOnlyKeys.contains(key) {
                problems.append("\(key): unknown key (expected id, fields)")
            }
        } else {
            source["id"] = nil
        }
        var fields: [String: JSONValue] = [:]
        fields.reserveCapacity(source.count)
        for (key, fieldValue) in source {
            if fieldValue == .null && IncidentSchema.byName[key] != nil { continue }
            do {
                try IncidentSchema.validate(field: key, value: fieldValue)
                fields[key] = fieldValue
            } catch {
                problems.append(error.description)
            }
        }
        return finish(id: id, fields: fields, problems: problems)
    }

    /// The row's input, or every problem it has; `checked`: the same fields, already checked by the reader.
    private static func finish(
        id: String?, fields: [String: JSONValue], checked: CheckedIncidentFields? = nil, problems: [String]
    ) -> Result<IncidentInput, RowProblem> {
        var problems = problems
        if let id, let problem = idProblem(id) { problems.append(problem) }
        if fields["title"] == nil && !problems.contains(where: { $0.hasPrefix("title:") }) {
            problems.append("title: is required for a new incident")
        }
        if !problems.isEmpty { return .failure(RowProblem(message: problems.sorted().joined(separator: "; "))) }
        if let checked { return .success(IncidentInput(id: id, checked: checked)) }
        return .success(IncidentInput(id: id, fields: fields))
    }

    /// The store's id rule: 1–200 bytes without tabs or line breaks.
    static func idProblem(_ id: String) -> String? {
        if id.isEmpty || id.utf8.count > 200 || id.contains(where: { $0.isNewline || $0 == "\t" }) {
            return "id: must be 1–200 bytes without tabs or line breaks"
        }
        return nil
    }

    /// The index of the first line feed at or after `start`, or the end of `buffer`.
    static func lineEnd(_ buffer: UnsafeBufferPointer<UInt8>, from start: Int) -> Int {
        guard start < buffer.count, let base = buffer.baseAddress,
            let found = memchr(base + start, 0x0A, buffer.count - start)
        else { return max(start, buffer.count) }
        return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(found))
    }

    @inline(__always)
    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A
    }

    // MARK: CSV

    /// Parses a header row of field names (optional `id` column) and one incident per record.
    /// An empty cell leaves the field absent.
    static func parseCSV(_ buffer: UnsafeBufferPointer<UInt8>) -> ImportResult {
        var result = ImportResult()
        var columns: [String]?
        do {
            try CSVReader.read(buffer) { line, cells in
                guard let header = columns else {
                    columns = try headerColumns(cells, line: line)
                    return
                }
                guard cells.count == header.count else {
                    result.problems.append(
                        ImportProblem(line: line, message: "expected \(header.count) cells like the header, found \(cells.count)")
                    )
                    return
                }
                var problems: [String] = []
                var id: String?
                var fields: [String: JSONValue] = [:]
                fields.reserveCapacity(header.count)
                for (column, cell) in zip(header, cells) {
                    guard let cell else {
                        problems.append("\(column): not valid UTF-8 text")
                        continue
                    }
                    if cell.isEmpty { continue }
                    if column == "id" {
                        id = cell
                        continue
                    }
                    do { fields[column] = try IncidentSchema.value(field: column, text: cell) } catch {
                        problems.append(String(describing: error))
                    }
                }
                switch finish(id: id, fields: fields, problems: problems) {
                case .success(let input): result.rows.append(ImportedRow(line: line, input: input))
                case .failure(let problem): result.problems.append(ImportProblem(line: line, message: problem.message))
                }
            }
        } catch let error as CSVSyntaxError {
            result.problems.append(ImportProblem(line: error.line, message: error.message))
        } catch let error as ImportProblem {
            result.problems.append(error)
        } catch {
            result.problems.append(ImportProblem(line: 1, message: String(describing: error)))
        }
        return result
    }

    /// The header's columns as field names (`event-type` is read as `event_type`), or a problem.
    private static func headerColumns(_ cells: [String?], line: Int) throws(ImportProblem) -> [String] {
        var columns: [String] = []
        var problems: [String] = []
        for cell in cells {
            let name = String((cell ?? "").trimmingSpaces.map { $0 == "-" ? "_" : $0 })
            if name != "id" && IncidentSchema.byName[name] == nil {
                problems.append("unknown column \"\(cell ?? "")\"")
            } else if columns.contains(name) {
                problems.append("column \"\(name)\" appears twice")
            }
            columns.append(name)
        }
        if !columns.contains("title") && problems.isEmpty { problems.append("the header has no title column") }
        if !problems.isEmpty {
            throw ImportProblem(
                line: line,
                message: "header: " + problems.joined(separator: "; ")
                    + " (columns are id and the field names: \(IncidentSchema.fieldNames.joined(separator: ", ")))")
        }
        return columns
    }

    // MARK: Shared

    /// Reports rows whose id appeared on an earlier row (they are dropped from `rows`).
    static func checkDuplicateIDs(_ result: inout ImportResult) {
        var firstLine: [String: Int] = [:]
        var kept: [ImportedRow] = []
        kept.reserveCapacity(result.rows.count)
        var duplicates: [ImportProblem] = []
        for row in result.rows {
            guard let id = row.input.id else {
                kept.append(row)
                continue
            }
            if let first = firstLine[id] {
                duplicates.append(ImportProblem(line: row.line, message: "id \(id) appears twice (first on line \(first))"))
            } else {
                firstLine[id] = row.line
                kept.append(row)
            }
        }
        if duplicates.isEmpty { return }
        result.rows = kept
        result.problems = (result.problems + duplicates).sorted { $0.line < $1.line }
    }
}

extension ImportProblem: Error {}

extension String {
    /// The text without leading and trailing spaces and tabs.
    var trimmingSpaces: Substring {
        var s = self[...]
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}

/// The file and the two result slots, shared by the two halves of a parallel parse.
private struct HalvesInFlight: @unchecked Sendable {
    // @unchecked Sendable: both halves only read `input`, which nothing writes while they run,
    // and each writes only its own slot of `output`; `concurrentPerform` returns after both.
    let input: UnsafeBufferPointer<UInt8>
    let output: UnsafeMutableBufferPointer<(result: ImportResult, lines: Int)>
}
