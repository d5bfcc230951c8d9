/// Which record a change touches: a collection and a client-made id.
///
/// Keys are equal, hashed and ordered byte for byte on their UTF-8 (never by `String ==`, which
/// treats NFC and NFD spellings of one text as equal).
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

    public static func == (lhs: RecordKey, rhs: RecordKey) -> Bool {
        sameBytes(lhs.id, rhs.id) && sameBytes(lhs.collection, rhs.collection)
    }

    /// Whether two texts have the same UTF-8 bytes (compared in place for native strings).
    @inline(__always)
    private static func sameBytes(_ a: String, _ b: String) -> Bool {
        let (x, y) = (a.utf8, b.utf8)
        guard x.count == y.count else { return false }
        let compared = x.withContiguousStorageIfAvailable { p in y.withContiguousStorageIfAvailable { q in p.elementsEqual(q) } }
        return (compared ?? nil) ?? x.elementsEqual(y)
    }

    /// Hashes the UTF-8 bytes (a `String`'s own hash is that of its normalized form).
    public func hash(into hasher: inout Hasher) {
        Self.hashBytes(of: collection, into: &hasher)
        Self.hashBytes(of: id, into: &hasher)
    }

    private static func hashBytes(of text: String, into hasher: inout Hasher) {
        hasher.combine(text.utf8.count)
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if done == nil { for byte in text.utf8 { hasher.combine(byte) } }
    }

    public static func < (lhs: RecordKey, rhs: RecordKey) -> Bool {
        if !lhs.collection.utf8.elementsEqual(rhs.collection.utf8) {
            return lhs.collection.utf8.lexicographicallyPrecedes(rhs.collection.utf8)
        }
        return idPrecedes(lhs.id, rhs.id)
    }

    /// Whether id `a` comes before id `b` byte for byte (the order of the stores' id index).
    public static func idPrecedes(_ a: String, _ b: String) -> Bool { a.utf8.lexicographicallyPrecedes(b.utf8) }

    public var description: String { "\(collection)/\(id)" }

    /// The most UTF-8 bytes (= characters) a record id has.
    public static let maxIDBytes = 200

    /// The rule every record id follows, in words.
    public static let idRule =
        "must match [A-Za-z0-9][A-Za-z0-9._:-]{0,199}: 1–200 ASCII letters, digits, '.', '_', ':' or '-', starting with a letter or digit"

    /// Whether `id` follows `idRule` (decided on its UTF-8 bytes).
    public static func isValidID(_ id: String) -> Bool {
        let utf8 = id.utf8
        guard let first = utf8.first, utf8.count <= maxIDBytes, isAlphanumeric(first) else { return false }
        return utf8.allSatisfy {
            isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ":")
                || $0 == UInt8(ascii: "-")
        }
    }

    @inline(__always)
    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
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
    /// The author's reporter name, when known (informational; never used to merge or shown).
    public var reporter: String?
    /// The author's Ed25519 signature over `canonicalBytes()` (64 bytes); nil for a change
    /// made before signatures.
    public var sig: [UInt8]?

    /// Makes a change.
    public init(
        dot: Dot, record: RecordKey, deps: VersionVector, tag: HLCTag, writes: [String: JSONValue],
        reporter: String? = nil, sig: [UInt8]? = nil
    ) {
        self.dot = dot
        self.record = record
        self.deps = deps
        self.tag = tag
        self.writes = writes
        self.reporter = reporter
        self.sig = sig
    }

    /// The write-order key of this change's writes.
    public var order: WriteOrder { WriteOrder(tag: tag, author: dot.replica, counter: dot.counter) }

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
