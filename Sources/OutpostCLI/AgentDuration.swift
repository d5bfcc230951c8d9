import ArgumentParser
import Foundation

/// How long `outpost unlock` keeps the key: `30s`, `15m` or `2h`, more than zero and at most 24 hours.
struct AgentDuration: Hashable, Sendable, CustomStringConvertible {
    /// The longest unlock: 24 hours.
    static let maximumSeconds = 24 * 3600

    /// The length in seconds, 1...`maximumSeconds`.
    let seconds: Int

    /// The default unlock time: 15 minutes.
    static let fifteenMinutes = AgentDuration(checkedSeconds: 15 * 60)

    private init(checkedSeconds: Int) {
        seconds = checkedSeconds
    }

    /// A duration of `seconds`, which must be 1...`maximumSeconds`.
    init(seconds: Int) throws(ValidationError) {
        guard seconds > 0 else { throw ValidationError("the unlock time must be more than zero (e.g. 30s, 15m, 2h)") }
        guard seconds <= Self.maximumSeconds else {
            throw ValidationError("the unlock time is at most 24h")
        }
        self.init(checkedSeconds: seconds)
    }

    /// Parses a number followed by `s`, `m` or `h` (`30s`, `15m`, `2h`).
    init(parsing text: String) throws(ValidationError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let unit = trimmed.last, let multiplier = ["s": 1, "m": 60, "h": 3600][unit] else {
            throw ValidationError(
                "\"\(text)\" is not a duration: write a whole number followed by s, m or h (e.g. 30s, 15m, 2h)")
        }
        let digits = trimmed.dropLast()
        guard !digits.isEmpty, digits.count <= 6, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let count = Int(digits)
        else {
            throw ValidationError(
                "\"\(text)\" is not a duration: write a whole number followed by s, m or h (e.g. 30s, 15m, 2h)")
        }
        try self.init(seconds: count * multiplier)
    }

    /// The shortest exact form: `2h`, `90m` or `45s`.
    var description: String {
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }
}
