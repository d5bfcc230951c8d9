import OutpostCore

/// The version vector a review form carries (hidden field `seen`): the record's vector when the
/// page was rendered, as unpadded base64url of `hex:counter` pairs joined by `,`, sorted by
/// replica. Read strictly: anything else is refused, never guessed.
enum SeenVersion {
    /// The most entries a vector may hold (`trust.md`, "Bounds").
    static let maxEntries = 10_000

    /// The form value of `vector`.
    static func encode(_ vector: VersionVector) -> String {
        let pairs = vector.entries.filter { $0.value > 0 }.sorted { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }
        return Base64URL.encode(Array(pairs.map { dotText(Dot(replica: $0.key, counter: $0.value)) }.joined(separator: ",").utf8))
    }

    /// The vector of a form value; nil when it is not exactly what `encode` makes.
    static func decode(_ text: String) -> VersionVector? {
        guard !text.isEmpty, text.utf8.count <= 64 * maxEntries, let bytes = Base64URL.decode(text),
            let plain = String(validating: bytes, as: UTF8.self)
        else { return nil }
        var entries: [ReplicaID: UInt64] = [:]
        let pairs = plain.split(separator: ",", omittingEmptySubsequences: false)
        guard pairs.count <= maxEntries else { return nil }
        for pair in pairs {
            guard let dot = dot(String(pair)), entries[dot.replica] == nil else { return nil }
            entries[dot.replica] = dot.counter
        }
        return VersionVector(entries)
    }

    /// `hex:counter`, the text of one dot (also how a resolve form names a sibling).
    static func dotText(_ dot: Dot) -> String { "\(dot.replica.hex):\(dot.counter)" }

    /// The dot of `hex:counter` (lowercase hex, a counter from 1 to 2^53 − 1 in plain digits).
    static func dot(_ text: String) -> Dot? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[1].isEmpty, parts[1].utf8.count <= 16,
            parts[1].utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let replica = ReplicaID(hex: String(parts[0])), let counter = UInt64(parts[1]),
            counter >= 1, counter <= UInt64(Change.counterRange.upperBound)
        else { return nil }
        return Dot(replica: replica, counter: counter)
    }
}
