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
    public static let parallelParseBytes = 1 << 20

    /// Parses one JSON object per line; blank lines are skipped; a leading `[` reads a JSON array.
    public static func parseNDJSON(_ buffer: UnsafeBufferPointer<UInt8>, parallelFrom: Int = parallelParseBytes) -> ImportResult {
        let n = buffer.count
        let start = CSVReader.hasBOM(buffer) ? 3 : 0
        var firstByte = start
        while firstByte < n, isSpace(buffer[firstByte]) { firstByte += 1 }
        if firstByte < n, buffer[firstByte] == UInt8(ascii: "[") {
            return parseJSONArray(UnsafeBufferPointer(rebasing: buffer[start...]))
        }
        // Split after the line feed nearest the middle; the second half's lines are numbered
        // from 1 and moved past the first half's lines afterwards.
        let middle = n - start >= parallelFrom ? LineFeeds.next(in: buffer, from: start + (n - start) / 2) + 1 : n
        guard middle < n else { return parseLines(buffer, range: start..<n).result }
        let (first, second) = inTwoHalves(buffer, start..<middle, middle..<n) { buffer, range, _ in
            parseLines(buffer, range: range)
        }
        return joined(first, second)
    }

    /// Parses the lines in `buffer[range]` (numbered from 1); also returns how many lines there were.
    private static func parseLines(_ buffer: UnsafeBufferPointer<UInt8>, range: Range<Int>) -> ParsedPart {
        var result = ImportResult()
        let n = range.upperBound
        var i = range.lowerBound
        var line = 0
        var reader = IncidentJSONReader()
        while i < n {
            line += 1
            let end = min(LineFeeds.next(in: buffer, from: i), n)
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
        return ParsedPart(result: result, lines: line)
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
        // One coordinate without the other (unless the other was given and refused already).
        if let pair = CoordinatePair.unpaired(fields), !problems.contains(where: { $0.hasPrefix(pair.missing + ":") }) {
            problems.append(CoordinatePair.problem(pair))
        }
        if !problems.isEmpty { return .failure(RowProblem(message: problems.sorted().joined(separator: "; "))) }
        if let checked { return .success(IncidentInput(id: id, checked: checked)) }
        return .success(IncidentInput(id: id, fields: fields))
    }

    /// The store's id rule (`RecordKey.isValidID`).
    static func idProblem(_ id: String) -> String? {
        RecordKey.isValidID(id) ? nil : "id: \(RecordKey.idRule)"
    }

    @inline(__always)
    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A
    }

    // MARK: CSV

    /// Parses a header row of field names (optional `id` column) and one incident per record.
    /// An empty cell leaves the field absent.
    ///
    /// A large file is read in two halves at once, split after a line feed near the middle: the
    /// first half reads the header as usual, the second starts with the columns read ahead. If
    /// the split fell inside a quoted cell (the first half then ends in a cell never closed),
    /// the file is read again in one go; the result is always what one read gives.
    public static func parseCSV(_ buffer: UnsafeBufferPointer<UInt8>, parallelFrom: Int = parallelParseBytes) -> ImportResult {
        let start = CSVReader.hasBOM(buffer) ? 3 : 0
        let n = buffer.count
        guard n - start >= parallelFrom, let header = csvHeader(buffer) else {
            return parseCSVRecords(buffer, range: start..<n, header: nil).result
        }
        let split = csvSplit(buffer, start: start)
        guard split < n else { return parseCSVRecords(buffer, range: start..<n, header: nil).result }
        let (first, second) = inTwoHalves(buffer, start..<split, split..<n) { buffer, range, isSecond in
            parseCSVRecords(buffer, range: range, header: isSecond ? header : nil)
        }
        // A split inside a quoted cell, or before the end of the header (blank lines ahead of it):
        // the halves are not what one read sees, so read the file in one go.
        if first.unclosedQuote || !first.readHeader { return parseCSVRecords(buffer, range: start..<n, header: nil).result }
        // One read would have stopped at the first half's syntax error.
        if first.stopped { return first.result }
        return joined(first, second)
    }

    /// The header's columns (as field positions, -1 for `id`), when the file starts with a valid header.
    private static func csvHeader(_ buffer: UnsafeBufferPointer<UInt8>) -> [Int]? {
        struct Stop: Error {}
        var header: [Int]?
        do {
            try CSVReader.read(buffer) { line, cells in
                header = try headerColumns(cells, line: line)
                throw Stop()
            }
        } catch {}
        return header
    }

    /// Where to split a CSV file: just after the line feed nearest the middle that follows an
    /// even number of quotes (so most likely outside a quoted cell); the end when there is none.
    private static func csvSplit(_ buffer: UnsafeBufferPointer<UInt8>, start: Int) -> Int {
        let n = buffer.count
        var split = min(LineFeeds.next(in: buffer, from: start + (n - start) / 2) + 1, n)
        var quotes = 0
        for byte in buffer[start..<split] where byte == UInt8(ascii: "\"") { quotes += 1 }
        while quotes % 2 == 1 && split < n {
            let next = min(LineFeeds.next(in: buffer, from: split) + 1, n)
            for byte in buffer[split..<next] where byte == UInt8(ascii: "\"") { quotes += 1 }
            split = next
        }
        return split
    }

    /// Reads the records in `range`: the first is the header unless `header` (field positions,
    /// -1 for `id`) is given. Lines are numbered from 1.
    private static func parseCSVRecords(_ buffer: UnsafeBufferPointer<UInt8>, range: Range<Int>, header: [Int]?) -> ParsedPart {
        var part = ParsedPart()
        var columns = header
        var reader = CheckedIncidentFields.TextReader()
        do {
            part.lines = try CSVReader.read(buffer, range: range) { line, cells in
                guard let header = columns else {
                    columns = try headerColumns(cells, line: line)
                    part.readHeader = true
                    return
                }
                guard cells.count == header.count else {
                    part.result.problems.append(
                        ImportProblem(line: line, message: "expected \(header.count) cells like the header, found \(cells.count)")
                    )
                    return
                }
                var problems: [String] = []
                var id: String?
                for (column, cell) in zip(header, cells) {
                    guard let cell else {
                        problems.append("\(column < 0 ? "id" : IncidentSchema.fields[column].name): not valid UTF-8 text")
                        continue
                    }
                    if cell.isEmpty { continue }
                    if column < 0 {
                        id = cell
                        continue
                    }
                    do { try reader.set(fieldAt: column, text: cell) } catch { problems.append(String(describing: error)) }
                }
                let fields = reader.finishRow()
                switch finish(id: id, fields: fields.fields, checked: fields.checked, problems: problems) {
                case .success(let input): part.result.rows.append(ImportedRow(line: line, input: input))
                case .failure(let problem): part.result.problems.append(ImportProblem(line: line, message: problem.message))
                }
            }
        } catch let error as CSVSyntaxError {
            part.result.problems.append(ImportProblem(line: error.line, message: error.message))
            part.stopped = true
            part.unclosedQuote = error.unclosedQuote
        } catch let error as ImportProblem {
            part.result.problems.append(error)
            part.stopped = true
        } catch {
            part.result.problems.append(ImportProblem(line: 1, message: String(describing: error)))
            part.stopped = true
        }
        return part
    }

    /// The header's columns as positions in `IncidentSchema.fields`, -1 for `id` (`event-type` is
    /// read as `event_type`), or a problem.
    private static func headerColumns(_ cells: [String?], line: Int) throws(ImportProblem) -> [Int] {
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
        return columns.map { IncidentSchema.fieldIndex($0) ?? -1 }
    }

    // MARK: Shared

    /// What reading part of a file gave: its rows and problems (lines numbered from the part's
    /// start), how many lines it read, and whether a syntax error stopped it (and whether that
    /// was a quoted cell left open).
    struct ParsedPart: Sendable {
        var result = ImportResult()
        var lines = 0
        var stopped = false
        var unclosedQuote = false
        /// Whether this part read the header record itself.
        var readHeader = false
    }

    /// Parses two parts of `buffer` at once, one per core; `parse` is told whether its part is the second.
    private static func inTwoHalves(
        _ buffer: UnsafeBufferPointer<UInt8>, _ first: Range<Int>, _ second: Range<Int>,
        _ parse: @escaping @Sendable (UnsafeBufferPointer<UInt8>, Range<Int>, Bool) -> ParsedPart
    ) -> (ParsedPart, ParsedPart) {
        var parsed = [ParsedPart](repeating: ParsedPart(), count: 2)
        parsed.withUnsafeMutableBufferPointer { out in
            let halves = HalvesInFlight(input: buffer, output: out)
            DispatchQueue.concurrentPerform(iterations: 2) { half in
                halves.output[half] = parse(halves.input, half == 0 ? first : second, half == 1)
            }
        }
        return (parsed[0], parsed[1])
    }

    /// The first part's rows and problems, then the second's, its lines moved past the first's.
    private static func joined(_ first: ParsedPart, _ second: ParsedPart) -> ImportResult {
        var result = first.result
        result.rows.reserveCapacity(result.rows.count + second.result.rows.count)
        for var row in second.result.rows {
            row.line += first.lines
            result.rows.append(row)
        }
        for var problem in second.result.problems {
            problem.line += first.lines
            result.problems.append(problem)
        }
        return result
    }

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
    let output: UnsafeMutableBufferPointer<IncidentImporter.ParsedPart>
}
