import OutpostCore
import OutpostStore
import Testing

@testable import OutpostCLI

/// NDJSON import takes common rows by a fast path; rows and messages must be what the general
/// path (parse the object, then check each field) gives.
@Suite("IncidentImporter fast path")
struct ImporterFastPathTests {
    /// The general path for one line.
    private func general(_ line: String) -> Result<IncidentInput, IncidentImporter.RowProblem> {
        do {
            return IncidentImporter.input(fromJSON: try JSONParser.parse(line))
        } catch {
            return .failure(IncidentImporter.RowProblem(message: "invalid JSON at column \(error.offset + 1): \(error.message)"))
        }
    }

    @Test func mixedRowsMatchTheGeneralPath() {
        let lines = [
            #"{"title": "Market attack", "lat": 16.27, "lon": -0.04, "killed": 3, "event_type": "battle"}"#,
            #"{"id": "r-1", "title": "Tab\there \u00e9\ud83d\ude00", "narrative": "a\nb", "status": "draft"}"#,
            #"{"id": "r-2", "title": "   ", "killed": 2.5}"#, #"{"title": "x", "colour": "red", "lat": 91}"#,
            #"{"title": "x", "event_type": "ri\u006ft"}"#,
            #"{"id":"r-3","fields":{"title":"T","lat":1,"lon":2},"deleted":false}"#,
            #"{"title": "x", "title": "y"}"#, #"{"id": 5, "title": "x"}"#, #"{"id": "", "title": "x"}"#,
            #"{"id": "a\tb", "title": "x"}"#, #"{"narrative": "no title"}"#, #"{"title": null}"#, "{}", "[1]",
            #"{"title": "x"} trailing"#, #"{"title": "unterminated}"#, #"{"title": "x", "occurred_at": "2026-02-30"}"#,
            #"{"title": "\u0041\u0301", "place_name": "Se\u0301gou"}"#, "\t{\"title\": \"padded\"}\t",
        ]
        let result = IncidentImporter.parse(Array(lines.joined(separator: "\n").utf8), format: .ndjson)
        var rows: [ImportedRow] = []
        var problems: [ImportProblem] = []
        for (index, line) in lines.enumerated() {
            switch general(line) {
            case .success(let input): rows.append(ImportedRow(line: index + 1, input: input))
            case .failure(let problem): problems.append(ImportProblem(line: index + 1, message: problem.message))
            }
        }
        #expect(result.rows.count == rows.count)
        for (a, b) in zip(result.rows, rows) {
            #expect(a.line == b.line)
            #expect(a.input.id.map { Array($0.utf8) } == b.input.id.map { Array($0.utf8) })
            #expect(a.input.fields == b.input.fields)
            for (key, value) in a.input.fields {
                if case .string(let s) = value {
                    #expect(Array(s.utf8) == b.input.fields[key]?.stringValue.map { Array($0.utf8) })
                }
            }
        }
        #expect(result.problems == problems)
        #expect(result.rows.count == 6)
    }

    @Test func linesOfEveryLengthAreSplitAtLineFeeds() {
        for length in 0..<40 {
            let filler = String(repeating: "x", count: length)
            let text =
                "{\"title\":\"\(filler)a\"}\n\n{\"title\":\"\(filler)b\"}\r\n" + String(repeating: " ", count: length)
                + "\n{\"title\":\"\(filler)c\"}"
            let result = IncidentImporter.parse(Array(text.utf8), format: .ndjson)
            #expect(result.problems.isEmpty)
            #expect(result.rows.map(\.line) == [1, 3, 5])
            #expect(result.rows.map { $0.input.fields["title"]?.stringValue } == ["\(filler)a", "\(filler)b", "\(filler)c"])
        }
    }

    @Test func lineEndFindsTheFirstLineFeed() {
        for length in 0..<40 {
            for position in 0...length {
                var bytes = [UInt8](repeating: 0x41, count: length)
                if position < length { bytes[position] = 0x0A }
                let end = bytes.withUnsafeBufferPointer { LineFeeds.next(in: $0, from: 0) }
                #expect(end == position)
            }
        }
    }
}
