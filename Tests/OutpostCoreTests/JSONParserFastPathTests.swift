import OutpostCore
import Testing

/// The parser's fast paths (word-at-a-time string scan, integer and decimal numbers without
/// text conversion) against the plain rules they shortcut.
@Suite struct JSONParserFastPathTests {
    /// Parses `"` + bytes + `"`.
    private func parseString(_ bytes: [UInt8]) throws(JSONParseError) -> String {
        let value = try JSONParser.parse([0x22] + bytes + [0x22])
        return value.stringValue!
    }

    /// The error's message and offset, as `message @ offset`.
    private func parseError(_ bytes: [UInt8]) -> String? {
        do {
            _ = try JSONParser.parse(bytes)
            return nil
        } catch {
            return "\(error.message) @ \(error.offset)"
        }
    }

    @Test func stringsOfEveryLengthAroundTheWordSizeKeepTheirBytes() throws {
        let pieces: [String] = ["a", "é", "😀", "ⵜ", "ت", " ", "e\u{301}"]
        var generator = SplitMix64(seed: 7)
        for length in 0..<40 {
            for _ in 0..<8 {
                var text = ""
                for _ in 0..<length { text += pieces[Int(generator.next() % UInt64(pieces.count))] }
                let parsed = try parseString(Array(text.utf8))
                #expect(Array(parsed.utf8) == Array(text.utf8))
            }
        }
    }

    @Test func escapesAtEveryPositionDecode() throws {
        let escapes: [(String, String)] = [
            (#"\""#, "\""), (#"\\"#, "\\"), (#"\/"#, "/"), (#"\b"#, "\u{8}"), (#"\f"#, "\u{C}"), (#"\n"#, "\n"),
            (#"\r"#, "\r"), (#"\t"#, "\t"), (#"\u0000"#, "\u{0}"), (#"\u00e9"#, "é"), (#"\u2D5C"#, "ⵜ"),
            (#"\ud83d\ude00"#, "😀"), (#"\uD83C\uDDE8"#, "🇨"),
        ]
        for (escape, decoded) in escapes {
            for before in 0..<18 {
                let prefix = String(repeating: "x", count: before)
                for after in ["", "yz", "é", String(repeating: "w", count: 9)] {
                    let parsed = try parseString(Array((prefix + escape + after).utf8))
                    #expect(Array(parsed.utf8) == Array((prefix + decoded + after).utf8))
                }
            }
        }
    }

    @Test func controlCharactersAndBadEscapesAreFoundWhereTheyAre() {
        for position in 0..<20 {
            let prefix = [UInt8](repeating: UInt8(ascii: "a"), count: position)
            let control = parseError([0x22] + prefix + [0x0A] + Array("abcdefghij\"".utf8))
            #expect(control == "control character in string @ \(1 + position)")
            let escape = parseError([0x22] + prefix + Array(#"\x""#.utf8))
            #expect(escape == "invalid escape @ \(3 + position)")
            let unterminated = parseError([0x22] + prefix)
            #expect(unterminated == "unterminated string @ \(1 + position)")
            let lone = parseError([0x22] + prefix + Array(#"\ud800x""#.utf8))
            #expect(lone == "unpaired surrogate in \\u escape @ \(7 + position)")
        }
    }

    @Test func invalidUTF8IsRefusedAtEveryPosition() {
        let bad: [[UInt8]] = [
            [0xFF], [0x80], [0xC0, 0x80], [0xC3], [0xE2, 0x82], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80],
            [0xF0, 0x90, 0x80], [0xF0, 0x90, 0x80, 0x41], [0xE0, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80],
        ]
        for sequence in bad {
            for position in 0..<18 {
                let prefix = [UInt8](repeating: UInt8(ascii: "a"), count: position)
                for tail in [[], Array("bcdefghijk".utf8), Array(#"\n"#.utf8)] {
                    let error = parseError([0x22] + prefix + sequence + tail + [0x22])
                    #expect(error == "string is not valid UTF-8 @ 1")
                }
            }
        }
    }

    @Test func randomBytesAreAcceptedExactlyWhenTheyAreUTF8() {
        var generator = SplitMix64(seed: 42)
        let alphabet: [UInt8] = [
            0x41, 0x7A, 0x20, 0x7F, 0x80, 0xBF, 0xC2, 0xC3, 0xDF, 0xE0, 0xE2, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xA0, 0x9F, 0x90,
        ]
        for _ in 0..<20_000 {
            let length = Int(generator.next() % 14)
            let bytes = (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            let expected = String(validating: bytes, as: UTF8.self)
            let parsed = try? parseString(bytes)
            #expect(parsed.map { Array($0.utf8) } == expected.map { Array($0.utf8) }, "\(bytes)")
            let escaped = try? parseString(bytes + Array(#"\t"#.utf8))
            #expect(escaped.map { Array($0.utf8) } == expected.map { Array($0.utf8) + [0x09] }, "\(bytes)")
        }
    }

    /// What the parser made of a number before its fast paths: Int64 text conversion for integers, Double's for the rest.
    private func reference(_ text: String) -> JSONValue? {
        let isInteger = !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" })
        if isInteger, let i = Int64(text) { return .int(i) }
        guard let d = Double(text), d.isFinite else { return nil }
        return .double(d)
    }

    private func sameNumber(_ a: JSONValue?, _ b: JSONValue?) -> Bool {
        switch (a, b) {
        case (.int(let x)?, .int(let y)?): return x == y
        case (.double(let x)?, .double(let y)?): return x.bitPattern == y.bitPattern
        case (nil, nil): return true
        default: return false
        }
    }

    @Test(arguments: [
        "0", "-0", "0.0", "-0.0", "-0.000", "1", "-1", "0.5", "16.27", "-0.04", "90", "-180", "180.0", "1e2", "1E-2", "-1.5e+3",
        "999999999999999999", "-999999999999999999", "1000000000000000000", "9223372036854775807", "-9223372036854775808",
        "9223372036854775808", "-9223372036854775809", "18446744073709551616", "123456789012345678901234567890",
        "9007199254740992.5", "9007199254740993.0", "0.9007199254740993", "900719925474099.3", "12.345678901234567",
        "16.283456000000001", "0.1000000000000000055511151231257827", "1.7976931348623157e308", "4.9e-324",
        "0.0000000000000000000001", "0.00000000000000000000001", "1234567890123456.7", "0.30000000000000004",
        "-12.345678901234567", "2.2250738585072014e-308", "7.0e-10", "1e400",
    ])
    func numbersMatchTextConversion(text: String) {
        let parsed = try? JSONParser.parse(text)
        #expect(sameNumber(parsed, reference(text)), "\(text): \(String(describing: parsed))")
    }

    @Test func randomDecimalsMatchTextConversion() {
        var generator = SplitMix64(seed: 2026)
        for _ in 0..<50_000 {
            let intDigits = Int(generator.next() % 20)
            let fractionDigits = Int(generator.next() % 25)
            var text = generator.next() % 2 == 0 ? "-" : ""
            if intDigits == 0 {
                text += "0"
            } else {
                text += String(1 + generator.next() % 9)
                for _ in 1..<intDigits { text += String(generator.next() % 10) }
            }
            if fractionDigits > 0 {
                text += "."
                for _ in 0..<fractionDigits { text += String(generator.next() % 10) }
            }
            let parsed = try? JSONParser.parse(text)
            #expect(sameNumber(parsed, reference(text)), "\(text)")
        }
    }

    @Test func longDecimalsRoundLikeTextConversion() {
        var generator = SplitMix64(seed: 53)
        var texts = [
            "9007199254740993.0", "9007199254740995.0", "9007199254740997.0", "18014398509481985.0",
            "1844674407370955.1615", "0.9999999999999999999", "1.000000000000000111", "1.000000000000000222",
            "16.283456000000001", "-0.030648000000000001", "179.99999999999997",
        ]
        for _ in 0..<50_000 {
            let digits = 16 + Int(generator.next() % 4)
            let fraction = 1 + Int(generator.next() % UInt64(min(digits, 22)))
            var text = String(1 + generator.next() % 9)
            for _ in 1..<digits { text += String(generator.next() % 10) }
            let point = text.index(text.endIndex, offsetBy: -fraction)
            let whole = point == text.startIndex ? "0" : String(text[..<point])
            texts.append((generator.next() % 2 == 0 ? "-" : "") + whole + "." + text[point...])
        }
        for text in texts {
            let parsed = try? JSONParser.parse(text)
            #expect(sameNumber(parsed, reference(text)), "\(text)")
        }
    }

    @Test func malformedNumbersKeepTheirMessages() {
        #expect(parseError(Array("-".utf8)) == "invalid number @ 1")
        #expect(parseError(Array("-x".utf8)) == "invalid number @ 1")
        #expect(parseError(Array("1.".utf8)) == "invalid number: no digits after '.' @ 2")
        #expect(parseError(Array("1.5e".utf8)) == "invalid number: no digits in exponent @ 4")
        #expect(parseError(Array("[1e400]".utf8)) == "number out of range @ 1")
        #expect(parseError(Array("01".utf8)) == "unexpected text after the value @ 1")
    }
}
