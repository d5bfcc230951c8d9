/// Which record a change touches: a collection and a client-made id.
public struct RecordKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The collection, `incidents` for incident reports.
    public var collection: String
    /// The record's id (a UUID in production).
    public var id: String

    /// Makes a key.
    public init(collection: String = RecordKey.incidents, id: String) {
        self.collection = collection
        self.id = id
    }

    /// The collection of incident reports.
    public static let incidents = "incidents"

    public static func < (lhs: RecordKey, rhs: RecordKey) -> Bool {
        (lhs.collection, lhs.id) < (rhs.collection, rhs.id)
    }

    public var description: String { "\(collection)/\(id)" }

    /// The rule every record id follows, in words.
    public static let idRule = "must be 1–200 bytes without tabs or line breaks"

    /// Whether `id` follows `idRule`.
    public static func isValidID(_ id: String) -> Bool {
        let utf8 = id.utf8
        guard !utf8.isEmpty, utf8.count <= 200 else { return false }
        // Printable ASCII (every id Outpost makes) is decided without looking at Characters.
        if utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return true }
        return !id.contains(where: { $0.isNewline || $0 == "\t" })
    }
}

/// One edit of one record by one replica: the unit of the change log and of sync.
public struct Change: Hashable, Sendable {
    /// The author and its counter.
    public var dot: Dot
    /// The record written.
    public var record: RecordKey
    /// The record's version vector at the author just before this change.
    public var deps: VersionVector
    /// The author's hybrid-clock tag.
    public var tag: HLCTag
    /// Field → JSON scalar; `_deleted` true/false deletes or restores.
    public var writes: [String: JSONValue]
    /// The author's reporter name, when known (informational; never used to merge).
    public var reporter: String?

    /// Makes a change.
    public init(
        dot: Dot, record: RecordKey, deps: VersionVector, tag: HLCTag, writes: [String: JSONValue],
        reporter: String? = nil
    ) {
        self.dot = dot
        self.record = record
        self.deps = deps
        self.tag = tag
        self.writes = writes
        self.reporter = reporter
    }

    /// The write-order key of this change's writes.
    public var order: WriteOrder { WriteOrder(tag: tag, author: dot.replica) }

    /// The name of the field that marks deletes and restores.
    public static let deletedField = "_deleted"
}

/// A change (or other wire object) that is not well formed.
public struct ChangeFormatError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong.
    public var message: String

    /// Makes an error with a message.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
