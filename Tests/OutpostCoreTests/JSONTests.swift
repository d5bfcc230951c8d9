import OutpostCore
import Testing

@Suite struct JSONTests {
    @Test(arguments: [
        #"{"a":1,"b":[true,false,null],"c":"x\ny","d":-0.5,"e":1.5e+300}"#,
        #"[]"#, #"{}"#, #""\u0000""#, #"9223372036854775807"#, #"12.345678901234567"#,
    ])
    func roundTrips(text: String) throws {
        let value = try JSONParser.parse(text)
        let again = try JSONParser.parse(value.serialized())
        #expect(again == value)
    }

    @Test func keepsIntegersAndFractionsApart() throws {
        #expect(try JSONParser.parse("3") == .int(3))
        #expect(try JSONParser.parse("3.0") == .double(3))
        #expect(try JSONParser.parse("1e2") == .double(100))
        #expect(JSONValue.double(12.345678901234567).serialized() == "12.345678901234567")
    }

    @Test func textIsKeptByteForByte() throws {
        let nfc = "S\u{E9}gou"
        let nfd = "Se\u{301}gou"
        let a = try JSONParser.parse(JSONValue.string(nfc).serialized())
        let b = try JSONParser.parse(JSONValue.string(nfd).serialized())
        #expect(Array(a.stringValue!.utf8) == Array(nfc.utf8))
        #expect(Array(b.stringValue!.utf8) == Array(nfd.utf8))
        #expect(try JSONParser.parse(#""\ud83c\udde8\ud83c\udde6 تمبكتو ⵜⵉⵏⴱⵓⴽⵜⵓ""#).stringValue == "🇨🇦 تمبكتو ⵜⵉⵏⴱⵓⴽⵜⵓ")
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "tru", "\"\\x\"", "\"a", "{\"a\":1,\"a\":2}", "\"\\ud800\"",
        "[1] x", "nan", "\"\u{01}\"",
    ])
    func rejectsMalformedText(text: String) {
        #expect(throws: JSONParseError.self) { try JSONParser.parse(text) }
    }

    @Test func rejectsInvalidUTF8AndDeepNesting() {
        #expect(throws: JSONParseError.self) { try JSONParser.parse([0x22, 0xFF, 0x22]) }
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSONParseError.self) { try JSONParser.parse(deep) }
    }
}

@Suite struct StringWritingTests {
    /// The plain byte-by-byte escaping the fast writer must match.
    private func reference(_ text: String) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        let hex = Array("0123456789abcdef".utf8)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [0x5C, 0x22]
            case UInt8(ascii: "\\"): out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0..<0x20: out += [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
        return out
    }

    @Test func everySpecialByteAtEveryPositionIsEscaped() {
        let specials: [String] = ["\"", "\\", "\n", "\r", "\t", "\u{0}", "\u{1}", "\u{1F}", "\u{7F}", "é", "قصف", "😀", " ", "~"]
        for length in 0..<24 {
            for position in 0...length {
                for special in specials {
                    var text = String(repeating: "a", count: length)
                    text.insert(contentsOf: special, at: text.index(text.startIndex, offsetBy: position))
                    var out: [UInt8] = []
                    JSONValue.writeString(text, to: &out)
                    #expect(out == reference(text), "\(Array(text.utf8))")
                }
            }
        }
    }

    @Test func randomTextMatchesTheReference() {
        var generator = SplitMix64(seed: 7)
        let pieces: [String] = ["a", "Z", " ", "\"", "\\", "\n", "\u{8}", "\u{1B}", "é", "ß", "中", "😀", "!", "}", "{"]
        for _ in 0..<2000 {
            let count = Int(generator.next() % 40)
            let text = (0..<count).map { _ in pieces[Int(generator.next() % UInt64(pieces.count))] }.joined()
            var out: [UInt8] = []
            JSONValue.writeString(text, to: &out)
            #expect(out == reference(text))
        }
    }
}

@Suite struct IntWritingTests {
    @Test func integersAreWrittenAsTheirDecimalText() {
        var generator = SplitMix64(seed: 11)
        var values: [Int64] = [0, 1, 9, 10, 11, 99, 100, -1, -9, -10, 1_000_000, Int64.max, Int64.min, Int64.min + 1]
        for _ in 0..<2000 { values.append(Int64(bitPattern: generator.next()) >> Int64(generator.next() % 63)) }
        for value in values {
            var out: [UInt8] = []
            JSONValue.writeInt(value, to: &out)
            #expect(out == Array(String(value).utf8))
        }
    }
}
