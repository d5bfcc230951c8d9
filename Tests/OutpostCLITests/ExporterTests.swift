import OutpostCore
import Testing

@testable import OutpostCLI
@testable import OutpostStore

@Suite("Exporter")
struct ExporterTests {
    private func record(_ id: String, _ fields: [String: JSONValue]) -> IncidentRecord {
        IncidentRecord(
            id: id, fields: fields, deleted: false, conflict: false, createdMs: 1_700_000_000_000,
            updatedMs: 1_700_000_000_500, updatedSeq: 1)
    }

    private func export(_ records: [IncidentRecord], _ format: ExportFormat) -> String {
        var collected: [UInt8] = []
        let out = OutputBuffer(chunkSize: 16) { collected += $0 }
        var exporter = Exporter(format: format, output: out)
        exporter.begin()
        for r in records { exporter.write(r) }
        exporter.finish()
        return String(decoding: collected, as: UTF8.self)
    }

    @Test func csvHasHeaderAndQuotes() {
        let text = export(
            [record("a", ["title": "Clash, \"north\"", "narrative": "two\nlines", "lat": -1.5, "killed": 3])], .csv)
        let lines = text.components(separatedBy: "\r\n")
        #expect(lines[0] == "id," + IncidentSchema.fieldNames.joined(separator: ","))
        #expect(lines[1].hasPrefix("a,\"Clash, \"\"north\"\"\",\"two\nlines\",,,,-1.5,"))
        #expect(text.hasSuffix("\r\n"))
    }

    @Test func csvRoundTripsThroughTheImporter() throws {
        let fields: [String: JSONValue] = [
            "title": "تقرير 🚨, \"quoted\"", "narrative": "a\r\nb", "lat": .double(12.345678901234567), "lon": -3,
            "killed": 0, "event_type": "battle", "occurred_at": "2024-02-29",
        ]
        let text = export([record("id-1", fields)], .csv)
        let result = IncidentImporter.parse(Array(text.utf8), format: .csv)
        #expect(result.problems.isEmpty)
        #expect(result.rows.first?.input == IncidentInput(id: "id-1", fields: fields))
    }

    /// The cells of the first record after the header (no quoted line breaks in them).
    private func csvCells(_ text: String) -> [Substring] {
        text.components(separatedBy: "\r\n")[1].split(separator: ",", omittingEmptySubsequences: false)
    }

    @Test func csvNeutralizesTextThatSpreadsheetsRunAsFormulas() {
        let fields: [String: JSONValue] = [
            "title": "=HYPERLINK(\"http://evil.example\";\"x\")", "narrative": "+1+1", "perpetrator": "-2+3",
            "target": "@SUM(A1)", "place_name": "\t=1", "admin1": "a=b", "admin2": "\u{FF1D}full width",
            "lat": -0.04, "lon": 16.27, "killed": 3,
        ]
        let text = export([record("-id", fields)], .csv)
        let cells = csvCells(text)
        let column = { (name: String) in cells[1 + IncidentSchema.fieldNames.firstIndex(of: name)!] }
        #expect(cells[0] == "'-id")
        #expect(column("title") == "\"'=HYPERLINK(\"\"http://evil.example\"\";\"\"x\"\")\"")
        #expect(column("narrative") == "'+1+1")
        #expect(column("perpetrator") == "'-2+3")
        #expect(column("target") == "'@SUM(A1)")
        #expect(column("place_name") == "'\t=1")
        // Only the first character counts, and only OWASP's list.
        #expect(column("admin1") == "a=b")
        #expect(column("admin2") == "\u{FF1D}full width")
        // Numbers from JSON numbers stay numbers, minus sign and all.
        #expect(column("lat") == "-0.04")
        #expect(column("lon") == "16.27")
        #expect(column("killed") == "3")
    }

    @Test func csvNeutralizesACarriageReturnStartInsideQuotes() {
        let text = export([record("a", ["title": "T", "narrative": "\r=1"])], .csv)
        #expect(text.contains(",\"'\r=1\","))
    }

    @Test func csvLeavesPlainTextAlone() {
        let text = export([record("a", ["title": "Market attack", "narrative": "ok = fine"])], .csv)
        #expect(csvCells(text)[0...2] == ["a", "Market attack", "ok = fine"])
    }

    /// A neutralized cell imported again keeps its `'`: the importer takes text as written, and
    /// the quote is what a spreadsheet would show anyway.
    @Test func importKeepsTheQuoteOfANeutralizedCell() throws {
        let text = export([record("a", ["title": "=1+2", "lat": -0.5, "lon": 1])], .csv)
        let result = IncidentImporter.parse(Array(text.utf8), format: .csv)
        #expect(result.problems.isEmpty)
        #expect(result.rows.first?.input == IncidentInput(id: "a", fields: ["title": "'=1+2", "lat": -0.5, "lon": 1]))
    }

    @Test func ndjsonIsTheShowObjectPerLine() throws {
        let r = record("a", ["title": "T", "lat": 1.25])
        let text = export([r, record("b", ["title": "U"])], .ndjson)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(String(lines[0]) == IncidentJSON.object(r).serialized())
        let parsed = try JSONParser.parse(String(lines[0]))
        #expect(parsed["fields"] == ["title": "T", "lat": 1.25])
        #expect(parsed["conflicts"] == [:])
        #expect(parsed["id"] == "a")
    }

    @Test func geojsonHasPointsAndNullGeometry() throws {
        let text = export(
            [record("a", ["title": "T", "lat": 1.5, "lon": -2]), record("b", ["title": "U", "lat": 3])], .geojson)
        let json = try JSONParser.parse(text)
        #expect(json["type"] == "FeatureCollection")
        let features = try #require(json["features"]?.arrayValue)
        #expect(features.count == 2)
        #expect(features[0]["geometry"] == ["type": "Point", "coordinates": [-2, 1.5]])
        #expect(features[0]["properties"] == ["title": "T", "lat": 1.5, "lon": -2, "id": "a"])
        #expect(features[1]["geometry"] == .null)
        #expect(export([], .geojson) == "{\"type\":\"FeatureCollection\",\"features\":[]}\n")
    }

    @Test func tableTruncatesAndAligns() {
        let renderer = TableRenderer(header: ["A", "B"], maxWidths: [5, nil])
        #expect(renderer.render([["abcdefgh", "x"], ["a\nb", "yy"]]) == "A      B\nabcd…  x\na b    yy\n")
    }
}
