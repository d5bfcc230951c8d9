import Foundation

/// `application/x-www-form-urlencoded` bodies, cookies and percent-encoding, by hand (bounded,
/// no Foundation formatting).
enum WebForm {
    /// The pairs of a form body or query string: `+` is a space, `%XX` a byte; malformed
    /// escapes stay as written; invalid UTF-8 becomes U+FFFD.
    static func parse(_ text: String) -> [(String, String)] {
        text.split(separator: "&", omittingEmptySubsequences: true).prefix(200).map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    static func decode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        var i = 0
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        while i < utf8.count {
            let c = utf8[i]
            if c == UInt8(ascii: "+") {
                bytes.append(0x20)
            } else if c == UInt8(ascii: "%"), i + 2 < utf8.count, let h = hex(utf8[i + 1]), let l = hex(utf8[i + 2]) {
                bytes.append(h << 4 | l)
                i += 2
            } else {
                bytes.append(c)
            }
            i += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Percent-encodes everything but unreserved characters (RFC 3986).
    static func percentEncode(_ text: String) -> String {
        var out = ""
        for b in text.utf8 {
            switch b {
            case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.append(Character(UnicodeScalar(b)))
            default:
                let digits = Array("0123456789ABCDEF")
                out += "%\(digits[Int(b >> 4)])\(digits[Int(b & 15)])"
            }
        }
        return out
    }

    /// The cookies of a `Cookie` header (first value of each name wins).
    static func cookies(_ header: String?) -> [String: String] {
        var out: [String: String] = [:]
        for item in (header ?? "").split(separator: ";").prefix(50) {
            let parts = item.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let name = parts[0].trimmingCharacters(in: .whitespaces)
            if out[name] == nil { out[name] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return out
    }
}
