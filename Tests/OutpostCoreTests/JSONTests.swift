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
