/// How strictly a change's JSON is read.
public enum ChangeDecoding: Hashable, Sendable {
    /// Outside bytes (a sync request or response, a bundle, a scenario): every bound of
    /// `trust.md` ("Bounds") is checked.
    case wire
    /// A store's own change log: what an older version may have stored is read as it is (no
    /// range bounds on `ms` and counters, no limits on `deps` and `reporter`, the older id rule),
    /// so that a store holding such a change still lists it.
    case stored
}

extension Change {
    /// The `ms` a change may carry: 1970-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z.
    public static let msRange: ClosedRange<Int64> = 0...253_402_300_799_999
    /// The `seq` a change may carry: 0 to 2^32 − 1.
    public static let seqRange: ClosedRange<Int64> = 0...4_294_967_295
    /// The counters a change (its own and each `deps` entry) may carry: 1 to 2^53 − 1.
    public static let counterRange: ClosedRange<Int64> = 1...9_007_199_254_740_991
    /// The most replicas a change's `deps` may name.
    public static let maxDepsEntries = 10_000
    /// The most UTF-8 bytes of a change's `reporter` text (a reporter name has at most 100
    /// characters, each at most 4 bytes).
    public static let maxReporterBytes = 400

    /// Nil when `ms` lies in `msRange` (or anything goes, as for `.stored`); else the problem.
    static func msProblem(_ ms: Int64, _ decoding: ChangeDecoding) -> String? {
        if decoding == .stored || msRange.contains(ms) { return nil }
        return
            "ms must be a whole number from \(msRange.lowerBound) to \(msRange.upperBound) (1970-01-01 to 9999-12-31), not \(ms)"
    }

    /// Nil when `seq` lies in `seqRange`; else the problem.
    static func seqProblem(_ seq: Int64) -> String? {
        seqRange.contains(seq) ? nil : "seq must be a whole number from 0 to \(seqRange.upperBound) (2^32 − 1), not \(seq)"
    }

    /// Nil when the change's own counter lies in `counterRange` (for `.stored`: is at least 1); else the problem.
    static func counterProblem(_ counter: Int64, _ decoding: ChangeDecoding) -> String? {
        if counter >= 1 && (decoding == .stored || counter <= counterRange.upperBound) { return nil }
        return "counter must be a whole number from 1 to \(counterRange.upperBound) (2^53 − 1), not \(counter)"
    }

    /// Nil when a `deps` counter lies in `counterRange` (for `.stored`: is at least 0); else the problem.
    static func depsCounterProblem(_ key: String, _ counter: Int64, _ decoding: ChangeDecoding) -> String? {
        switch decoding {
        case .wire where counterRange.contains(counter), .stored where counter >= 0: return nil
        case .wire: return "deps[\(key)] must be a whole number from 1 to \(counterRange.upperBound) (2^53 − 1), not \(counter)"
        case .stored: return "deps[\(key)] must be a whole number ≥ 0"
        }
    }

    /// Nil when `deps` may name `count` replicas; else the problem.
    static func depsCountProblem(_ count: Int, _ decoding: ChangeDecoding) -> String? {
        if decoding == .stored || count <= maxDepsEntries { return nil }
        return "deps name \(count) replicas; at most \(maxDepsEntries) are allowed"
    }

    /// Nil when `id` is a valid record id (for `.stored`: 1–200 bytes, the rule older versions
    /// stored by); else the problem.
    static func idProblem(_ id: String, _ decoding: ChangeDecoding) -> String? {
        switch decoding {
        case .wire: return RecordKey.isValidID(id) ? nil : "id \(RecordKey.idRule)"
        case .stored:
            return !id.isEmpty && id.utf8.count <= RecordKey.maxIDBytes
                ? nil : "id must be a non-empty string of at most \(RecordKey.maxIDBytes) bytes"
        }
    }

    /// The rule for a reporter's name (a store's, an enrolment's), in words.
    public static let reporterNameRule = "reporter name must be 1–100 characters and at most \(maxReporterBytes) bytes"

    /// Whether `name` (already trimmed) follows `reporterNameRule`: the byte limit is what a
    /// change's `reporter` may carry on the wire.
    public static func isValidReporterName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= maxReporterBytes && name.count <= 100
    }

    /// Nil when `reporter` is short enough; else the problem.
    static func reporterProblem(_ reporter: String, _ decoding: ChangeDecoding) -> String? {
        let bytes = reporter.utf8.count
        if decoding == .stored || bytes <= maxReporterBytes { return nil }
        return "reporter must be at most \(maxReporterBytes) bytes of UTF-8, not \(bytes)"
    }

    /// Nil when every value of the change lies within the wire's bounds (`trust.md`, "Bounds":
    /// `ms`, `seq`, counters, `deps`, the id and the reporter); else the first problem. For a
    /// change that did not come through a `.wire` decoder (one read back from a store).
    public var boundsProblem: String? {
        if let p = Change.msProblem(tag.ms, .wire) { return p }
        if let p = Change.counterProblem(Int64(clamping: dot.counter), .wire) { return p }
        if let p = Change.depsCountProblem(deps.entries.count, .wire) { return p }
        for (replica, counter) in deps.entries {
            if let p = Change.depsCounterProblem(replica.hex, Int64(clamping: counter), .wire) { return p }
        }
        if let p = Change.idProblem(record.id, .wire) { return p }
        if let reporter, let p = Change.reporterProblem(reporter, .wire) { return p }
        return nil
    }
}
