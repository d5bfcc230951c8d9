import Testing

@testable import OutpostCore

/// The schema's fast paths (field lookup by bytes, text limits decided by byte counts, common
/// date forms) against the plain rules they shortcut.
@Suite struct SchemaFastPathTests {
    @Test func fieldIndexFindsEveryFieldAndNothingElse() {
        for (index, name) in IncidentSchema.fieldNames.enumerated() {
            #expect(IncidentSchema.fieldIndex(name) == index)
            #expect(Array(name.utf8).withUnsafeBufferPointer { IncidentSchema.fieldIndex(utf8: $0) } == index)
        }
        let others = [
            "", "i", "id", "titl", "titles", "Title", "TITLE", "title ", " title", "tit\u{0}e", "tïtle", "lan", "lbt",
            "admin3", "admin", "eventtype", "event-type", "occurred_at_", "date_precisionx", "fields", "deleted",
            String(repeating: "x", count: 17), String(repeating: "title", count: 10), "statuS", "kil\u{0}ed",
        ]
        for name in others {
            #expect(IncidentSchema.fieldIndex(name) == nil, "\(name)")
            #expect(Array(name.utf8).withUnsafeBufferPointer { IncidentSchema.fieldIndex(utf8: $0) } == nil, "\(name)")
        }
    }

    /// The text rule as the schema states it: at most 4 × max UTF-8 bytes, and the Character
    /// count (after trimming when trimmed) within the range.
    private func textIsValid(_ text: String, min: Int, max: Int, trimmed: Bool) -> Bool {
        guard text.utf8.count <= 4 * max else { return false }
        var counted = text[...]
        if trimmed {
            while let f = counted.first, f.isWhitespace { counted.removeFirst() }
            while let l = counted.last, l.isWhitespace { counted.removeLast() }
        }
        return (min...max).contains(counted.count)
    }

    @Test func textLimitsCountCharactersAfterTrimming() {
        let pieces = [
            "a", " ", "\t", "\n", "\r\n", "é", "e\u{301}", "\u{301}", "\u{A0}", "\u{2003}", "\u{3000}", "\u{600}", "\u{85}",
            "😀", "🇨🇦", "\u{200D}", "x\u{200D}", "-", "ت",
        ]
        var texts: [String] = []
        for a in pieces {
            for b in pieces { texts += [a + b, a + "title" + b, b + a + b] }
        }
        var generator = SplitMix64(seed: 11)
        for _ in 0..<300 {
            let length = Int(generator.next() % 8)
            texts.append((0..<length).map { _ in pieces[Int(generator.next() % UInt64(pieces.count))] }.joined())
        }
        // Around the limits, where bytes and Characters differ.
        for n in [199, 200, 201] {
            for piece in ["x", "é", "e\u{301}", "😀", " "] {
                let body = String(repeating: piece, count: n)
                texts += [body, " " + body, body + " ", "  " + body + "\u{A0}", "\u{600}" + body]
            }
        }
        for text in texts {
            for field in ["title", "place_name", "perpetrator"] {
                guard case .text(let min, let max, let trimmed) = IncidentSchema.byName[field]!.kind else { continue }
                let expected = textIsValid(text, min: min, max: max, trimmed: trimmed)
                let accepted = (try? IncidentSchema.validate(field: field, value: .string(text))) != nil
                #expect(accepted == expected, "\(field): \(Array(text.unicodeScalars))")
            }
        }
    }

    @Test func longNarrativesCountCharactersNotBytes() throws {
        try IncidentSchema.validate(field: "narrative", value: .string(String(repeating: "é", count: 50_000)))
        try IncidentSchema.validate(field: "narrative", value: .string(String(repeating: "e\u{301}", count: 50_000)))
        try IncidentSchema.validate(field: "narrative", value: .string(String(repeating: "😀", count: 50_000)))
        // Flags are two scalars (8 bytes) each: 25,000 fit in the 200,000 bytes, 50,000 do not.
        try IncidentSchema.validate(field: "narrative", value: .string(String(repeating: "🇨🇦", count: 25_000)))
        #expect {
            try IncidentSchema.validate(field: "narrative", value: .string(String(repeating: "🇨🇦", count: 50_000)))
        } throws: { error in
            (error as? ValidationError)?.rule == "must be at most 200000 bytes of UTF-8 (got 400000)"
        }
        #expect {
            try IncidentSchema.validate(field: "narrative", value: .string(String(repeating: "é", count: 50_001)))
        } throws: { error in
            (error as? ValidationError)?.rule == "must be at most 50000 characters (got 50001)"
        }
        #expect {
            try IncidentSchema.validate(field: "title", value: .string(" " + String(repeating: "e\u{301}", count: 201)))
        } throws: { error in
            (error as? ValidationError)?.rule == "must be at most 200 characters (got 201)"
        }
        #expect {
            try IncidentSchema.validate(field: "title", value: .string(" \u{A0}\n"))
        } throws: { error in
            (error as? ValidationError)?.rule == "must not be empty or only white space"
        }
    }

    /// Issue 11, finding 5: "A" and 4 million combining marks is one Character; it took 8 MB of
    /// title. Every text limit counts UTF-8 bytes too.
    @Test func combiningMarksCannotPassATextLimit() {
        let marks = String(repeating: "\u{301}", count: 4_000_000)
        #expect(("A" + marks).count == 1)
        for field in ["title", "narrative", "place_name", "admin1", "admin2", "perpetrator", "target"] {
            guard case .text(_, let max, _) = IncidentSchema.byName[field]!.kind else {
                Issue.record("\(field) is not text")
                continue
            }
            #expect {
                try IncidentSchema.validate(field: field, value: .string("A" + marks))
            } throws: { error in
                (error as? ValidationError)?.rule == "must be at most \(4 * max) bytes of UTF-8 (got 8000001)"
            }
            // At the byte limit exactly: taken when the characters fit too.
            let full =
                "A" + String(repeating: "\u{301}", count: (4 * max - 1) / 2) + String(repeating: "a", count: (4 * max - 1) % 2)
            #expect(full.utf8.count == 4 * max)
            #expect((try? IncidentSchema.validate(field: field, value: .string(full))) != nil, "\(field)")
            #expect((try? IncidentSchema.validate(field: field, value: .string(full + "a"))) == nil, "\(field)")
        }
    }

    @Test func commonDatesAreExactlyWhatDateTextAccepts() {
        var generator = SplitMix64(seed: 3)
        func pick(_ options: [String]) -> String { options[Int(generator.next() % UInt64(options.count))] }
        var texts = [
            "2024-02-29", "2023-02-29", "2100-02-29", "2000-02-29", "1900-01-01", "1899-12-31", "2101-01-01",
            "2026-03-01T10:00:00Z", "2026-03-01t10:00:00Z", "2026-03-01T10:00:00z", "2026-03-01T24:00:00Z",
            "2026-03-01T23:59:60Z", "2026-03-01T23:60:00Z", "2026-03-01T10:00:00+01:00", "2026-03-01T10:00:00.5Z",
            "2026-13-01", "2026-00-10", "2026-04-31", "2026-04-00", "2026-4-01", "２０２６-03-01", "2026-03-01 ", "2026/03/01",
        ]
        for _ in 0..<20_000 {
            let year = pick(["1899", "1900", "1999", "2000", "2024", "2100", "2101", "0000", "19x9"])
            let month = pick(["00", "01", "02", "04", "09", "11", "12", "13", "1a"])
            let day = pick(["00", "01", "28", "29", "30", "31", "32", "3 "])
            var text = "\(year)-\(month)-\(day)"
            if generator.next() % 2 == 0 {
                text +=
                    pick(["T", "t", " "]) + pick(["00", "23", "24", "9x"]) + ":" + pick(["00", "59", "60"]) + ":"
                    + pick(["00", "59", "60", "61"]) + pick(["Z", "z", "", "+01:00", ".123Z", "ZZ"])
            }
            texts.append(text)
        }
        for text in texts {
            if IncidentSchema.isCommonDate(text) { #expect(DateText.problem(text) == nil, "\(text)") }
            let accepted = (try? IncidentSchema.validate(field: "occurred_at", value: .string(text))) != nil
            #expect(accepted == (DateText.problem(text) == nil), "\(text)")
        }
        #expect(IncidentSchema.isCommonDate("2026-03-01T10:00:00Z"))
        #expect(IncidentSchema.isCommonDate("2024-02-29"))
    }
}
