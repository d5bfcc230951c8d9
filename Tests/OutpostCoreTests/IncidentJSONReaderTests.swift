import OutpostCore
import Testing

/// The import fast path against the general one: whenever the reader takes a row, it must give
/// what parsing the whole object and validating each field gives.
@Suite struct IncidentJSONReaderTests {
    /// The general way: the id and non-null fields of a flat object whose fields are all valid, else nil.
    private func reference(_ text: String) -> IncidentJSONReader.Row? {
        guard case .object(let object)? = try? JSONParser.parse(text) else { return nil }
        var row = IncidentJSONReader.Row(id: nil, fields: [:])
        for (key, value) in object {
            if key == "id" {
                switch value {
                case .null: continue
                case .string(let s): row.id = s
                default: return nil
                }
                continue
            }
            guard IncidentSchema.byName[key] != nil, value.isScalar else { return nil }
            if value == .null { continue }
            guard (try? IncidentSchema.validate(field: key, value: value)) != nil else { return nil }
            row.fields[key] = value
        }
        return row
    }

    private func read(_ reader: inout IncidentJSONReader, _ text: String) -> IncidentJSONReader.Row? {
        Array(text.utf8).withUnsafeBufferPointer { reader.read($0) }
    }

    /// Compares text byte for byte and numbers bit for bit (`==` on Strings and Doubles is looser).
    private func same(_ a: IncidentJSONReader.Row?, _ b: IncidentJSONReader.Row?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        guard a.id.map({ Array($0.utf8) }) == b.id.map({ Array($0.utf8) }), a.fields.count == b.fields.count else { return false }
        for (key, value) in a.fields {
            switch (value, b.fields[key]) {
            case (.string(let x), .string(let y)?): if Array(x.utf8) != Array(y.utf8) { return false }
            case (.double(let x), .double(let y)?): if x.bitPattern != y.bitPattern { return false }
            case (.int(let x), .int(let y)?): if x != y { return false }
            default: return false
            }
        }
        return true
    }

    private static let valid =
        #"{"title": "Market attack, Gao", "narrative": "Line 1\nLine \"2\" \u00e9 \ud83d\ude00", "event_type": "violence_against_civilians", "occurred_at": "2026-03-01T10:00:00Z", "date_precision": "exact", "lat": 16.27, "lon": -0.04, "geo_precision": "near", "place_name": "الفاشر", "admin1": "Gao", "admin2": "Mocímboa da Praia", "killed": 3, "injured": 0, "abducted": 10000000, "displaced": 120, "perpetrator": "unknown", "target": "market", "source_type": "witness", "confidence": "high", "sensitivity": "restricted", "status": "draft"}"#

    @Test func takesCommonRowsAndGivesWhatTheGeneralPathGives() throws {
        var reader = IncidentJSONReader()
        let rows = [
            Self.valid, #"{"title":"A"}"#, #"  {"id":"x-1","title":"B","event_type":"riot","narrative":null}  "#,
            #"{"title":"C","lat":-12.345678901234567,"lon":179.99999999999997,"killed":0}"#, "{\"title\":\"D\"}\r",
            #"{"id":null,"title":"E","status":"duplicate","date_precision":"year","occurred_at":"2024-02-29"}"#,
            #"{"title":"F","narrative":"","place_name":"","lat":-90,"lon":180.0}"#, #"{"title":"\u0041"}"#,
        ]
        for text in rows {
            let row = read(&reader, text)
            #expect(row != nil, "\(text)")
            #expect(same(row, reference(text)), "\(text)")
        }
    }

    @Test func leavesUnusualOrInvalidRowsToTheGeneralPath() {
        var reader = IncidentJSONReader()
        let rows = [
            #"{"title":"A","title":"B"}"#, #"{"ti\u0074le":"A"}"#, #"{"title":"A","fields":{}}"#,
            #"{"id":"a","fields":{"title":"T"}}"#,
            #"{"title":"A","colour":"red"}"#, #"{"title":"A","lat":91}"#, #"{"title":"A","killed":2.5}"#,
            #"{"title":"A","killed":-1}"#,
            #"{"title":"   "}"#, #"{"title":""}"#, #"{"title":null,"narrative":true}"#, #"{"title":"A","lat":"1"}"#,
            #"{"title":"A","event_type":"massacre"}"#, #"{"title":"A","event_type":"ri\u006ft"}"#,
            #"{"title":"A","status":"Draft"}"#,
            #"{"title":"A","occurred_at":"2026-02-30"}"#, #"{"title":"A","occurred_at":"2026-03-01T10:00:00"}"#,
            #"{"title":"A","admin1":["x"]}"#, #"{"title":"A","admin1":{"x":1}}"#, #"{"title":"A"} x"#, #"{"title":"A""#,
            #"{"title":"A",}"#, #"{"title" "A"}"#, #"{"title":"A"]"#, #"["title"]"#, #""title""#, "", "  ",
            #"{"id":5,"title":"A"}"#,
            #"{"id":"a","id":"b","title":"A"}"#, #"{"title":"A","lat":1e400}"#, #"{"title":"A","narrative":"\x"}"#,
            "{\"title\":\"A\u{1}\"}", "{\"title\":\"\u{FF}\"}", #"{"title":"A","narrative":nul}"#, #"{"title":"A","lat":01}"#,
            #"{"title":"A","_deleted":true}"#, #"{"title":"A","deleted":false}"#, #"{"title":"A","killed":null,"killed":1}"#,
        ]
        for text in rows {
            let row = read(&reader, text)
            #expect(same(row, reference(text)) || row == nil, "\(text)")
            if reference(text) == nil { #expect(row == nil, "\(text)") }
        }
        let invalidUTF8: [UInt8] = Array(#"{"title":""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        #expect(invalidUTF8.withUnsafeBufferPointer { reader.read($0) } == nil)
    }

    @Test func randomVariationsAgreeWithTheGeneralPath() throws {
        guard case .object(let base) = try JSONParser.parse(Self.valid) else {
            Issue.record("the base row is not an object")
            return
        }
        let replacements: [JSONValue] = [
            .null, .int(0), .int(-1), .int(10_000_001), .double(1.5), .double(-90), .double(180.5), .string(""), .string(" "),
            .string("riot"), .string("day"), .string("2026-03-01"), .string("2026-02-29"), .string("x\ny"), .bool(true),
            .string(String(repeating: "é", count: 201)), .string(String(repeating: "a", count: 501)), .array([]),
        ]
        var generator = SplitMix64(seed: 99)
        var reader = IncidentJSONReader()
        var taken = 0
        for _ in 0..<3_000 {
            var object = base
            for _ in 0..<Int(generator.next() % 4) {
                let key = IncidentSchema.fieldNames[Int(generator.next() % UInt64(IncidentSchema.fieldNames.count))]
                if generator.next() % 3 == 0 {
                    object[key] = nil
                } else {
                    object[key] = replacements[Int(generator.next() % UInt64(replacements.count))]
                }
            }
            if generator.next() % 5 == 0 {
                object["id"] = generator.next() % 2 == 0 ? .string("id-\(generator.next() % 100)") : .null
            }
            let text = JSONValue.object(object).serialized()
            let row = read(&reader, text)
            let expected = reference(text)
            // Serialized rows are plain flat JSON: the reader takes every valid one.
            #expect(same(row, expected), "\(text)")
            if row != nil { taken += 1 }
        }
        #expect(taken > 100)
    }

    @Test func manyDifferentSetsOfFieldsEachReadRight() {
        var reader = IncidentJSONReader()
        for round in 0..<2 {
            for mask in 0..<200 {
                var members = [#""title":"T\#(mask)""#]
                for (bit, name) in ["narrative", "place_name", "admin1", "admin2", "perpetrator", "target", "killed", "injured"]
                    .enumerated() where mask & (1 << bit) != 0
                {
                    members.append(
                        name == "killed" || name == "injured" ? #""\#(name)":\#(bit + round)"# : #""\#(name)":"v\#(round)""#)
                }
                let text = "{" + members.joined(separator: ",") + "}"
                let row = read(&reader, text)
                #expect(row != nil && same(row, reference(text)), "\(text)")
            }
        }
    }
}
