/// Checks the date forms the incident model accepts, by hand (no locale, no Foundation).
public enum DateText {
    /// Nil when `text` is `YYYY-MM-DD` or an RFC 3339 date-time with years 1900–2100; else the problem.
    public static func problem(_ text: String) -> String? {
        let b = Array(text.utf8)
        guard b.count >= 10 else { return "too short" }
        guard let year = digits(b, 0, 4), b[4] == UInt8(ascii: "-"), let month = digits(b, 5, 2),
            b[7] == UInt8(ascii: "-"), let day = digits(b, 8, 2)
        else { return "the date must be YYYY-MM-DD" }
        guard (1900...2100).contains(year) else { return "year \(year) is outside 1900–2100" }
        guard (1...12).contains(month) else { return "month \(month) does not exist" }
        guard (1...daysIn(month: month, year: year)).contains(day) else { return "day \(day) does not exist in that month" }
        if b.count == 10 { return nil }
        guard b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") else { return "expected 'T' after the date" }
        guard b.count >= 19, let hour = digits(b, 11, 2), b[13] == UInt8(ascii: ":"), let minute = digits(b, 14, 2),
            b[16] == UInt8(ascii: ":"), let second = digits(b, 17, 2)
        else { return "the time must be HH:MM:SS followed by Z or an offset" }
        guard hour <= 23, minute <= 59, second <= 60 else { return "the time of day is out of range" }
        var i = 19
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < b.count, isDigit(b[i]) { i += 1 }
            if i == start { return "no digits after the decimal point" }
        }
        guard i < b.count else { return "missing time zone (Z or ±HH:MM)" }
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            return i + 1 == b.count ? nil : "unexpected text after the time zone"
        }
        guard b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"), b.count == i + 6,
            let oh = digits(b, i + 1, 2), b[i + 3] == UInt8(ascii: ":"), let om = digits(b, i + 4, 2), oh <= 23, om <= 59
        else { return "the time zone must be Z or ±HH:MM" }
        return nil
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    private static func digits(_ b: [UInt8], _ start: Int, _ count: Int) -> Int? {
        guard start + count <= b.count else { return nil }
        var n = 0
        for i in start..<(start + count) {
            guard isDigit(b[i]) else { return nil }
            n = n * 10 + Int(b[i] - UInt8(ascii: "0"))
        }
        return n
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Milliseconds since the epoch for an RFC 3339 UTC/offset date-time, or nil when malformed.
    public static func epochMilliseconds(_ text: String) -> Int64? {
        guard problem(text) == nil else { return nil }
        let b = Array(text.utf8)
        let year = digits(b, 0, 4)!, month = digits(b, 5, 2)!, day = digits(b, 8, 2)!
        var days = daysFromCivil(year: year, month: month, day: day)
        var ms: Int64 = 0
        if b.count > 10 {
            let hour = digits(b, 11, 2)!, minute = digits(b, 14, 2)!, second = digits(b, 17, 2)!
            ms = Int64((hour * 60 + minute) * 60 + second) * 1000
            var i = 19
            if b[i] == UInt8(ascii: ".") {
                i += 1
                var scale: Int64 = 100
                while i < b.count, isDigit(b[i]) {
                    ms += Int64(b[i] - UInt8(ascii: "0")) * scale
                    scale /= 10
                    i += 1
                }
            }
            if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                let offset = Int64(digits(b, i + 1, 2)! * 60 + digits(b, i + 4, 2)!) * 60_000
                ms += b[i] == UInt8(ascii: "+") ? -offset : offset
            }
        }
        days += 0
        return Int64(days) * 86_400_000 + ms
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
    /// Never traps: a count beyond ±2^40 days (±3 billion years) is taken as that bound.
    public static func civil(daysSinceEpoch days: Int) -> (year: Int, month: Int, day: Int) {
        let limit = 1 << 40
        let z = min(max(days, -limit), limit) + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// The earliest time `rfc3339(epochMilliseconds:)` prints: 0001-01-01T00:00:00.000Z.
    public static let earliestPrintableMs: Int64 = -62_135_596_800_000
    /// The latest time `rfc3339(epochMilliseconds:)` prints: 9999-12-31T23:59:59.999Z.
    public static let latestPrintableMs: Int64 = 253_402_300_799_999

    /// Formats epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`. Never traps: a time before
    /// year 1 or after year 9999 (only a store written before the bounds could hold one) is
    /// printed as the nearest of those two ends.
    public static func rfc3339(epochMilliseconds ms: Int64) -> String {
        let clamped = min(max(ms, earliestPrintableMs), latestPrintableMs)
        var (days, rem) = clamped.quotientAndRemainder(dividingBy: 86_400_000)
        if rem < 0 {
            days -= 1
            rem += 86_400_000
        }
        let (y, m, d) = civil(daysSinceEpoch: Int(days))
        let r = Int(rem)
        func pad(_ n: Int, _ w: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, w - s.count)) + s
        }
        let h = r / 3_600_000, mi = r / 60_000 % 60, s = r / 1000 % 60, milli = r % 1000
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)).\(pad(milli, 3))Z"
    }
}
