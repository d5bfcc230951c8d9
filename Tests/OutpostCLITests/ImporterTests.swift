import OutpostCore
import OutpostStore
import Testing

@testable import OutpostCLI

@Suite("IncidentImporter")
struct ImporterTests {
    private func parse(_ text: String, _ format: ImportFormat) -> ImportResult {
        IncidentImporter.parse(Array(text.utf8), format: format)
    }

    @Test func ndjsonReadsObjectsAndSkipsBlankLines() throws {
        let text = """
            {"title": "A", "lat": -12.5, "lon": 30, "killed": 3}

            {"id": "x-1", "title": "B", "event_type": "riot", "narrative": null}\r
            """
        let result = parse(text, .ndjson)
        #expect(result.problems.isEmpty)
        #expect(result.rows.map(\.line) == [1, 3])
        #expect(result.rows[0].input.fields == ["title": "A", "lat": .double(-12.5), "lon": 30, "killed": 3])
        #expect(result.rows[1].input.id == "x-1")
        #expect(result.rows[1].input.fields == ["title": "B", "event_type": "riot"])
    }

    @Test func ndjsonSkipsByteOrderMark() {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("{\"title\":\"A\"}\n".utf8)
        let result = IncidentImporter.parse(bytes, format: .ndjson)
        #expect(result.problems.isEmpty)
        #expect(result.rows.count == 1)
    }

    @Test func ndjsonReportsEveryBadRowWithItsLine() {
        let text = """
            {"title": "ok"}
            {"title": "bad lat", "lat": 91}
            not json
            {"title": "ok 2"}
            {"event_type": "party"}
            {"title": "x", "colour": "red"}
            [1]
            """
        let result = parse(text, .ndjson)
        #expect(result.rows.map(\.line) == [1, 4])
        #expect(result.problems.map(\.line) == [2, 3, 5, 6, 7])
        #expect(result.problems[0].description.hasPrefix("line 2: lat:"))
        #expect(result.problems[1].message.contains("invalid JSON"))
        #expect(result.problems[2].message.contains("event_type: must be one of"))
        #expect(result.problems[2].message.contains("title: is required"))
        #expect(result.problems[3].message.contains("colour: unknown field"))
        #expect(result.problems[4].message.contains("expected a JSON object"))
    }

    /// A large file is read in two halves at once: the rows, the problems and every line number
    /// must be exactly what reading it in one go gives, wherever the split falls.
    @Test func ndjsonReadInTwoHalvesMatchesOneRead() throws {
        var lines: [String] = []
        for i in 0..<1_500 {
            switch i % 97 {
            case 3: lines.append("")
            case 11: lines.append("not json \(i)")
            case 29: lines.append(#"{"title": "bad \#(i)", "lat": 91}"#)
            case 41: lines.append(#"{"killed": \#(i)}"#)
            case 53: lines.append(#"{"title": "nested \#(i)", "fields": {"title": "x"}}"#)
            default: lines.append(#"{"id": "i\#(i)", "title": "row \#(i)", "killed": \#(i), "narrative": "text\n\#(i)"}"#)
            }
        }
        for ending in ["\n", "\r\n"] {
            let bytes = Array(lines.joined(separator: ending).utf8)
            let whole = bytes.withUnsafeBufferPointer { IncidentImporter.parseNDJSON($0, parallelFrom: .max) }
            #expect(whole.rows.count > 1_300 && whole.problems.count > 40)
            #expect(whole.rows.last?.line == 1_500)
            #expect(whole.problems.contains { $0.line == 1_467 && $0.message.contains("invalid JSON") })
            for parallelFrom in [1, bytes.count / 2, bytes.count] {
                let halves = bytes.withUnsafeBufferPointer { IncidentImporter.parseNDJSON($0, parallelFrom: parallelFrom) }
                #expect(halves == whole, "split from \(parallelFrom) bytes, lines ending \(ending.debugDescription)")
            }
        }
        // A file of one line, and one of one line and a line feed, is never split inside a line.
        for text in [#"{"title": "only"}"#, "{\"title\": \"only\"}\n"] {
            let result = Array(text.utf8).withUnsafeBufferPointer { IncidentImporter.parseNDJSON($0, parallelFrom: 1) }
            #expect(result.rows.map(\.line) == [1] && result.problems.isEmpty)
        }
    }

    /// A large CSV file is read in two halves at once: whatever the split, the rows, problems and
    /// line numbers are those of one read, with quoted cells holding line breaks, commas and
    /// quotes, bad rows, a split that falls inside a quoted cell, and syntax errors in either half.
    /// Blank lines ahead of the header can put the split before it (a fuzzer finding): the
    /// halves must still give what one read gives, not the header read as a data row.
    @Test func csvSplitBeforeTheHeaderMatchesOneRead() throws {
        for text in ["\n\n\n\n\n\ntitle", String(repeating: "\n", count: 400) + "title,killed\nfirst,1\nsecond,2\n"] {
            let bytes = Array(text.utf8)
            let whole = bytes.withUnsafeBufferPointer { IncidentImporter.parseCSV($0, parallelFrom: .max) }
            let halves = bytes.withUnsafeBufferPointer { IncidentImporter.parseCSV($0, parallelFrom: 1) }
            #expect(halves == whole)
            #expect(halves.rows.allSatisfy { $0.input.fields["title"] != .string("title") })
        }
    }

    @Test func csvReadInTwoHalvesMatchesOneRead() throws {
        var records = ["id,title,narrative,killed,injured"]
        for i in 0..<1_200 {
            switch i % 89 {
            case 5: records.append("")
            case 17: records.append("b\(i),bad count \(i),,1,-91")
            case 23: records.append("b\(i),\"quoted\ntitle \(i)\",\"a \"\"quoted\"\", narrative\nover\nlines\",2,15")
            case 31: records.append("b\(i),,no title,3,4")
            case 47: records.append("b\(i),too,many,cells,1,2")
            case 60: records.append("b\(i),unquoted \" quote \(i),,4,5")
            default: records.append("r\(i),row \(i),\"text, with comma \(i)\",\(i),12")
            }
        }
        // One quoted cell of many lines in the middle, so that the split may fall inside it.
        records.insert("m,middle,\"" + (0..<40).map { "line \($0)" }.joined(separator: "\n") + "\",1,1", at: 600)
        for ending in ["\n", "\r\n"] {
            let text = records.joined(separator: ending) + ending
            for broken in [nil, 300, 1_000] {
                var lines = text
                if let broken {
                    // A syntax error (text after a closing quote) early or late in the file.
                    var all = records
                    all[broken] = "x\(broken),\"title\"oops,,1,1"
                    lines = all.joined(separator: ending) + ending
                }
                let bytes = Array(lines.utf8)
                let whole = bytes.withUnsafeBufferPointer { IncidentImporter.parseCSV($0, parallelFrom: .max) }
                if broken == nil {
                    #expect(whole.rows.count > 1_000 && whole.problems.count > 20)
                } else {
                    #expect(whole.problems.last?.message.contains("after a closing quote") == true)
                }
                for parallelFrom in [1, bytes.count] {
                    let halves = bytes.withUnsafeBufferPointer { IncidentImporter.parseCSV($0, parallelFrom: parallelFrom) }
                    #expect(halves == whole, "lines ending \(ending.debugDescription), error at \(String(describing: broken))")
                }
            }
        }
        // Split inside a quoted cell: a file whose middle is one long quoted narrative.
        let long = "title,narrative\nfirst,\"" + String(repeating: "x\n", count: 5_000) + "\"\nlast,y\n"
        let longBytes = Array(long.utf8)
        let one = longBytes.withUnsafeBufferPointer { IncidentImporter.parseCSV($0, parallelFrom: .max) }
        let two = longBytes.withUnsafeBufferPointer { IncidentImporter.parseCSV($0, parallelFrom: 1) }
        #expect(two == one && one.problems.isEmpty && one.rows.map(\.line) == [2, 5_003])
        // A stray quote in an unquoted cell first: the quotes before the middle are then even
        // inside the long cell, the split falls inside it, and the file is read again in one go.
        let stray = Array(("title,narrative\nstray \" quote,z\n" + long.dropFirst("title,narrative\n".count)).utf8)
        let strayOne = stray.withUnsafeBufferPointer { IncidentImporter.parseCSV($0, parallelFrom: .max) }
        let strayTwo = stray.withUnsafeBufferPointer { IncidentImporter.parseCSV($0, parallelFrom: 1) }
        #expect(strayTwo == strayOne && strayOne.problems.isEmpty && strayOne.rows.map(\.line) == [2, 3, 5_004])
    }

    @Test func recordIDsFollowOneRule() {
        for id in ["a", "01a21f58-8f76-7586-bfd4-df6899910af8", "A.b_c:d-9", String(repeating: "x", count: 200)] {
            #expect(RecordKey.isValidID(id), "\(id)")
        }
        for id in [
            "", "tab\there", "line\nbreak", "cr\r", "ls\u{2028}", String(repeating: "x", count: 201),
            "é" + String(repeating: "x", count: 199), "ünïcode", "space id", "-lead", "S\u{E9}gou", "Se\u{301}gou",
        ] {
            #expect(!RecordKey.isValidID(id), "\(id.debugDescription)")
        }
    }

    /// Rows the fast reader took carry their check to the store; changed fields lose it.
    @Test func checkedRowsKeepTheirCheckOnlyWhileUnchanged() throws {
        let result = parse(#"{"title": "A", "killed": 3}"# + "\n" + #"{"title": "B", "fields": null}"#, .ndjson)
        #expect(result.problems.count == 1)
        var input = try #require(result.rows.first?.input)
        #expect(input.isChecked)
        input.fields["killed"] = 4
        #expect(!input.isChecked)
        #expect(!IncidentInput(fields: ["title": "A"]).isChecked)
        #expect(IncidentInput(checked: try CheckedIncidentFields(["title": "A"])).isChecked)
        #expect(throws: ValidationError.self) { try CheckedIncidentFields(["title": " "]) }
        #expect(throws: ValidationError.self) { try CheckedIncidentFields(["killed": 1]) }
    }

    @Test func ndjsonAcceptsTheExportShape() throws {
        let text =
            #"{"id":"a","fields":{"title":"T","lat":1,"lon":2},"deleted":false,"conflict":false,"conflicts":{},"created_at":"x","updated_at":"y"}"#
        let result = parse(text, .ndjson)
        #expect(result.problems.isEmpty)
        #expect(result.rows.first?.input == IncidentInput(id: "a", fields: ["title": "T", "lat": 1, "lon": 2]))
    }

    @Test func jsonArrayReportsItems() {
        let result = parse(#"[{"title":"A"}, {"title":""}]"#, .ndjson)
        #expect(result.rows.count == 1)
        #expect(result.problems.first?.description.hasPrefix("item 2: title:") == true)
    }

    @Test func duplicateIDsAreReported() {
        let result = parse("{\"id\":\"a\",\"title\":\"A\"}\n{\"id\":\"a\",\"title\":\"B\"}\n", .ndjson)
        #expect(result.rows.count == 1)
        #expect(result.problems.map(\.description) == ["line 2: id a appears twice (first on line 1)"])
    }

    @Test func csvHandlesQuotesCommasNewlinesAndCRLF() throws {
        let text =
            "id,title,narrative,lat,lon,killed\r\n"
            + "a,\"Clash, north\",\"Line 1\r\nLine \"\"2\"\"\",-12.345678901234567,30,4\r\n"
            + "b,Plain,,,,\r\n"
        let result = parse(text, .csv)
        #expect(result.problems.isEmpty)
        try #require(result.rows.count == 2)
        #expect(result.rows[0].input.id == "a")
        #expect(result.rows[0].input.fields["title"] == "Clash, north")
        #expect(result.rows[0].input.fields["narrative"] == "Line 1\r\nLine \"2\"")
        #expect(result.rows[0].input.fields["lat"] == .double(-12.345678901234567))
        #expect(result.rows[0].input.fields["killed"] == 4)
        #expect(result.rows[1].line == 4)
        #expect(result.rows[1].input.fields == ["title": "Plain"])
    }

    @Test func csvWithBOMAndFlagStyleHeader() {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("title,event-type\nA,riot\n".utf8)
        let result = IncidentImporter.parse(bytes, format: .csv)
        #expect(result.problems.isEmpty)
        #expect(result.rows.first?.input.fields == ["title": "A", "event_type": "riot"])
    }

    @Test func csvReportsBadRowsWithLineNumbersAfterMultilineCells() {
        let text = """
            title,narrative,lat,lon,date_precision
            "Ok","two
            lines",1,1,day
            Bad,x,200,1,day
            ,no title,,,
            Wrong,count
            Also bad,,abc,,hour
            """
        let result = parse(text, .csv)
        #expect(result.rows.map(\.line) == [2])
        #expect(result.problems.map(\.line) == [4, 5, 6, 7])
        #expect(result.problems[0].message.hasPrefix("lat: must be a finite number from -90 to 90"))
        #expect(result.problems[1].message == "title: is required for a new incident")
        #expect(result.problems[2].message.contains("expected 5 cells"))
        #expect(result.problems[3].message.contains("date_precision: must be one of"))
        #expect(result.problems[3].message.contains("lat: must be a number"))
    }

    @Test func csvHeaderProblemsStopTheFile() {
        let result = parse("title,colour\nA,red\n", .csv)
        #expect(result.rows.isEmpty)
        #expect(result.problems.count == 1)
        #expect(result.problems[0].description.hasPrefix("line 1: header: unknown column \"colour\""))
    }

    @Test func csvUnterminatedQuoteNamesItsLine() {
        let result = parse("title\nA\n\"B\nC\n", .csv)
        #expect(result.problems.map(\.description) == ["line 3: a quoted cell is not closed"])
    }

    @Test func csvInvalidUTF8IsReported() {
        let bytes = Array("title\n".utf8) + [0x41, 0xFF, 0x0A]
        let result = IncidentImporter.parse(bytes, format: .csv)
        #expect(result.problems.map(\.description) == ["line 2: title: not valid UTF-8 text"])
    }

    @Test func formatDetection() {
        #expect(ImportFormat.detect(path: "a.CSV", bytes: Array("{".utf8)) == .csv)
        #expect(ImportFormat.detect(path: "a.jsonl", bytes: []) == .ndjson)
        #expect(ImportFormat.detect(path: "a.json", bytes: []) == .ndjson)
        #expect(ImportFormat.detect(path: "-", bytes: Array("\u{FEFF}  {\"title\":1}".utf8)) == .ndjson)
        #expect(ImportFormat.detect(path: "data.txt", bytes: Array("title\nA\n".utf8)) == .csv)
    }

    @Test func storeRowNumbersBecomeLines() {
        let rows = [
            ImportedRow(line: 3, input: IncidentInput(fields: ["title": "a"])),
            ImportedRow(line: 9, input: IncidentInput(fields: ["title": "b"])),
        ]
        #expect(
            OutpostCommand.Import.lineMessage("incident 2: id x already exists", rows: rows)
                == "line 9: id x already exists; nothing was imported")
        #expect(OutpostCommand.Import.lineMessage("disk full", rows: rows) == "disk full; nothing was imported")
    }
}
