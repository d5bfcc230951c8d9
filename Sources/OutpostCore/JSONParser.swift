/// An error in JSON text: what is wrong and the byte offset where it was found.
public struct JSONParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    /// Byte offset into the input.
    public var offset: Int

    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

/// A strict RFC 8259 parser working on UTF-8 bytes, with a nesting limit.
public struct JSONParser {
    /// Deepest nesting of arrays and objects accepted.
    public static let maxDepth = 64

    /// Parses one JSON value from text; anything but white space after it is an error.
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    /// Parses one JSON value from bytes.
    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONParseError) in try parse(buffer) }
    }

    /// Parses one JSON value from a byte buffer.
    public static func parse(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue {
        var parser = JSONParser(buffer: buffer)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.index != buffer.count { throw parser.error("unexpected text after the value") }
        return value
    }

    let buffer: UnsafeBufferPointer<UInt8>
    var index = 0

    init(buffer: UnsafeBufferPointer<UInt8>) { self.buffer = buffer }

    func error(_ message: String) -> JSONParseError { JSONParseError(message: message, offset: index) }

    mutating func skipWhitespace() {
        while index < buffer.count {
            switch buffer[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        guard index < buffer.count else { throw error("unexpected end of input") }
        switch buffer[index] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character")
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= buffer.count else { throw error("unexpected end of input") }
        let base = literal.utf8Start
        for i in 0..<count where buffer[index + i] != base[i] {
            throw error("invalid literal")
        }
        index += count
    }

    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > JSONParser.maxDepth { throw error("nesting deeper than \(JSONParser.maxDepth)") }
        index += 1
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if index < buffer.count && buffer[index] == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard index < buffer.count, buffer[index] == UInt8(ascii: "\"") else {
                throw error("expected a string key")
            }
            let keyOffset = index
            let key = try parseString()
            if members[key] != nil {
                throw JSONParseError(message: "duplicate key \"\(key)\"", offset: keyOffset)
            }
            skipWhitespace()
            guard index < buffer.count, buffer[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
            index += 1
            skipWhitespace()
            members[key] = try parseValue(depth: depth)
            skipWhitespace()
            guard index < buffer.count else { throw error("unexpected end of input") }
            if buffer[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if buffer[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            throw error("expected ',' or '}'")
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > JSONParser.maxDepth { throw error("nesting deeper than \(JSONParser.maxDepth)") }
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if index < buffer.count && buffer[index] == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            guard index < buffer.count else { throw error("unexpected end of input") }
            if buffer[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            if buffer[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            throw error("expected ',' or ']'")
        }
    }

    /// Parses a string literal at `index` (its opening quote).
    mutating func parseString() throws(JSONParseError) -> String {
        index += 1  // opening quote
        let start = index
        let end = buffer.count
        // Fast path: no escapes. Eight bytes at a time while none is a quote, backslash or control
        // character; the bytes' high bits tell whether the text is all ASCII.
        var high: UInt64 = 0
        if let base = buffer.baseAddress {
            while index + 8 <= end {
                let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
                if ByteWords.hasJSONSpecialByte(word) { break }
                high |= word
                index += 8
            }
        }
        while index < end {
            let byte = buffer[index]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: buffer[start..<index])
                index += 1
                if high & 0x8080_8080_8080_8080 == 0 { return String(decoding: slice, as: UTF8.self) }
                guard let s = JSONParser.string(validating: slice) else {
                    throw JSONParseError(message: "string is not valid UTF-8", offset: start)
                }
                return s
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw error("control character in string") }
            high |= UInt64(byte)
            index += 1
        }
        return try parseEscapedString(start: start)
    }

    /// The rest of a string literal that has escapes (or no closing quote), from `index` on.
    private mutating func parseEscapedString(start: Int) throws(JSONParseError) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(index - start + 64)
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[start..<index]))
        while index < buffer.count {
            let byte = buffer[index]
            if byte == UInt8(ascii: "\"") {
                let s = bytes.withUnsafeBufferPointer { JSONParser.string(validating: $0) }
                guard let s else { throw JSONParseError(message: "string is not valid UTF-8", offset: start) }
                index += 1
                return s
            }
            if byte < 0x20 { throw error("control character in string") }
            if byte != UInt8(ascii: "\\") {
                bytes.append(byte)
                index += 1
                continue
            }
            index += 1
            guard index < buffer.count else { break }
            let escape = buffer[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""): bytes.append(0x22)
            case UInt8(ascii: "\\"): bytes.append(0x5C)
            case UInt8(ascii: "/"): bytes.append(0x2F)
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try parseHex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard index + 1 < buffer.count, buffer[index] == UInt8(ascii: "\\"),
                        buffer[index + 1] == UInt8(ascii: "u")
                    else { throw error("unpaired surrogate in \\u escape") }
                    index += 2
                    let low = try parseHex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate in \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw error("unpaired surrogate in \\u escape")
                }
                guard let u = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                JSONParser.appendUTF8(u, to: &bytes)
            default: throw error("invalid escape")
            }
        }
        throw error("unterminated string")
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= buffer.count else { throw error("unexpected end of input") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = buffer[index]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw error("invalid hex digit in \\u escape")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    /// Parses a number at `index`: an integer when it has no fraction or exponent and fits
    /// `Int64`, else a finite Double (the one nearest the decimal text).
    mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        let negative = buffer[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < buffer.count else { throw error("invalid number") }
        // The decimal digits as one integer while at most 19 are read (leading zeros included).
        var significand: UInt64 = 0
        var digits = 0
        if buffer[index] == UInt8(ascii: "0") {
            index += 1
        } else if (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(buffer[index]) {
            while index < buffer.count, let d = JSONParser.digit(buffer[index]) {
                if digits < 19 { significand = significand &* 10 &+ d }
                digits += 1
                index += 1
            }
        } else {
            throw error("invalid number")
        }
        var fractionDigits = 0
        if index < buffer.count, buffer[index] == UInt8(ascii: ".") {
            index += 1
            let digitsStart = index
            while index < buffer.count, let d = JSONParser.digit(buffer[index]) {
                if digits < 19 { significand = significand &* 10 &+ d }
                digits += 1
                index += 1
            }
            fractionDigits = index - digitsStart
            if fractionDigits == 0 { throw error("invalid number: no digits after '.'") }
        }
        var hasExponent = false
        if index < buffer.count, buffer[index] == UInt8(ascii: "e") || buffer[index] == UInt8(ascii: "E") {
            hasExponent = true
            index += 1
            if index < buffer.count, buffer[index] == UInt8(ascii: "+") || buffer[index] == UInt8(ascii: "-") { index += 1 }
            let digitsStart = index
            while index < buffer.count, JSONParser.digit(buffer[index]) != nil { index += 1 }
            if index == digitsStart { throw error("invalid number: no digits in exponent") }
        }
        if !hasExponent && digits <= 19 {
            if fractionDigits == 0 {
                // Up to 18 digits always fit Int64; 19 may not, and the text path decides.
                if digits <= 18 {
                    let magnitude = Int64(significand)
                    return .int(negative ? -magnitude : magnitude)
                }
            } else if significand <= 1 << 53 && fractionDigits <= 22 {
                // Both the significand and 10^k are exact Doubles, so one correctly rounded
                // division gives the Double nearest the decimal text (Clinger's fast path).
                let magnitude = Double(significand) / JSONParser.powersOfTen[fractionDigits]
                return .double(negative ? -magnitude : magnitude)
            } else if fractionDigits <= 22 {
                let magnitude = JSONParser.nearestDouble(significand, overPowerOfTen: fractionDigits)
                return .double(negative ? -magnitude : magnitude)
            }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<index]), as: UTF8.self)
        if !hasExponent && fractionDigits == 0, let i = Int64(text) { return .int(i) }
        guard let d = Double(text), d.isFinite else {
            throw JSONParseError(message: "number out of range", offset: start)
        }
        return .double(d)
    }

    /// The Double nearest w / 10^k (ties to even) for 2^53 < w < 2^64 and k ≤ 22, by exact integer
    /// division: w / 10^k = (w · 2^s / 5^k) · 2^(-s-k), the quotient taken to 62–64 bits and rounded once.
    private static func nearestDouble(_ w: UInt64, overPowerOfTen k: Int) -> Double {
        let divisor = powersOfFive[k]
        let divisorBits = 64 - divisor.leadingZeroBitCount
        let shift = 63 + divisorBits - (64 - w.leadingZeroBitCount)
        // w · 2^shift < 2^(63 + divisorBits), so the high word is below the divisor and the quotient fits 64 bits.
        let high = shift == 0 ? 0 : w >> (64 - shift)
        let low = shift == 0 ? w : w << shift
        let (quotient, remainder) = divisor.dividingFullWidth((high, low))
        let drop = 64 - quotient.leadingZeroBitCount - 53
        var mantissa = quotient >> drop
        let rest = quotient & ((1 << drop) - 1)
        let half: UInt64 = 1 << (drop - 1)
        if rest > half || (rest == half && (remainder != 0 || mantissa & 1 == 1)) { mantissa += 1 }
        return Double(sign: .plus, exponent: drop - shift - k, significand: Double(mantissa))
    }

    /// 5^k for 0 ≤ k ≤ 22 (all below 2^52).
    private static let powersOfFive: [UInt64] = (0...22).map { k in (0..<k).reduce(1) { p, _ in p * 5 } }

    @inline(__always)
    private static func digit(_ byte: UInt8) -> UInt64? {
        let d = byte &- UInt8(ascii: "0")
        return d < 10 ? UInt64(d) : nil
    }

    /// 10^k for 0 ≤ k ≤ 22, all exact Doubles.
    private static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
        1e20, 1e21, 1e22,
    ]

    /// The text of `bytes` when they are valid UTF-8, byte for byte; nil otherwise.
    static func string(validating bytes: UnsafeBufferPointer<UInt8>) -> String? {
        // Decoding replaces each invalid sequence with U+FFFD and keeps valid text as it is,
        // so the bytes are valid exactly when the decoded text has the same bytes.
        let s = String(decoding: bytes, as: UTF8.self)
        let same = s.utf8.withContiguousStorageIfAvailable { decoded in
            decoded.count == bytes.count && decoded.elementsEqual(bytes)
        }
        return same ?? s.utf8.elementsEqual(bytes) ? s : nil
    }

    /// Appends the UTF-8 encoding of `scalar`.
    static func appendUTF8(_ scalar: Unicode.Scalar, to bytes: inout [UInt8]) {
        let v = scalar.value
        switch v {
        case 0..<0x80:
            bytes.append(UInt8(v))
        case 0x80..<0x800:
            bytes.append(UInt8(0xC0 | v >> 6))
            bytes.append(UInt8(0x80 | v & 0x3F))
        case 0x800..<0x10000:
            bytes.append(UInt8(0xE0 | v >> 12))
            bytes.append(UInt8(0x80 | v >> 6 & 0x3F))
            bytes.append(UInt8(0x80 | v & 0x3F))
        default:
            bytes.append(UInt8(0xF0 | v >> 18))
            bytes.append(UInt8(0x80 | v >> 12 & 0x3F))
            bytes.append(UInt8(0x80 | v >> 6 & 0x3F))
            bytes.append(UInt8(0x80 | v & 0x3F))
        }
    }
}
