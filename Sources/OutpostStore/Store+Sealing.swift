import Foundation
import OutpostCore

// How an encrypted store keeps its content (`CRYPT-PLAN.md`, section 1): change bodies, record
// states, reporter names (replicas, roster), roster signatures and every text or blob setting
// are sealed by the store's cipher, each bound to its place (`SealedPlace`). Ids, counters,
// clocks, version vectors, sizes and flags stay in the clear, as SQL needs them.
// A plaintext store (`cipher` nil) reads and writes every value as before, with no copy.

extension Store {
    /// The `meta` key naming the cipher of an encrypted store (plaintext; absent in a plaintext store).
    static let cipherMeta = "cipher"
    /// The `meta` key of the sealed known value a key is checked against when the store opens.
    static let keyCheckMeta = "key_check"
    /// What `key_check` holds, sealed.
    static let keyCheckValue = Array("outpost store key check v1".utf8)
    /// `meta` keys whose values stay in the clear in an encrypted store (integers always do).
    static let plaintextMetaKeys: Set<String> = ["replica", cipherMeta, keyCheckMeta]

    /// Whether this store seals its content.
    public var isEncrypted: Bool { cipher != nil }

    /// Whether the store in `directory` is encrypted (reads `meta` only, needs no key).
    public static func isEncrypted(at directory: String) throws(StoreError) -> Bool {
        let path = databasePath(in: directory)
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.missing, "no Outpost store at \(directory) (run `outpost init --reporter NAME` first)")
        }
        do {
            let db = try Database(path: path, create: false)
            db.setBusyTimeout(milliseconds: 5_000)
            try db.keepWALOnClose()
            return try cipherName(db) != nil
        } catch {
            throw StoreError.wrap(error)
        }
    }

    /// The cipher `meta` names, nil for a plaintext store (or one made before `meta` existed).
    static func cipherName(_ db: Database) throws -> String? {
        let hasMeta = try db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").first { _ in true }
        guard hasMeta == true else { return nil }
        return try db.prepare("SELECT value FROM meta WHERE key = ?").bind(.text(cipherMeta)).first { $0.text(0) } ?? nil
    }

    /// The cipher an existing store opens with: nil for a plaintext store (whatever `given` is);
    /// for an encrypted one `given`, once its key opened `key_check`, else a `.encrypted` error.
    static func checkedCipher(_ db: Database, given: StoreCipher?, directory: String) throws -> StoreCipher? {
        guard let name = try cipherName(db) else {
            // A store that checks a key but names no cipher had its `cipher` row removed: opened as
            // plaintext, it would take new content in the clear.
            if try db.prepare("SELECT 1 FROM meta WHERE key = ?").bind(.text(keyCheckMeta)).first({ _ in true }) == true {
                throw StoreError(
                    .encrypted,
                    "the store at \(directory) is damaged or was tampered with: it holds a key check but names no cipher; it was not opened"
                )
            }
            return nil
        }
        guard name == StoreCipher.formatName else {
            throw StoreError(
                .encrypted,
                "the store at \(directory) is encrypted with \(name), which this version of Outpost does not know; upgrade Outpost to open it"
            )
        }
        guard let given else {
            throw StoreError(
                .encrypted,
                "the store at \(directory) is encrypted: unlock it with `outpost unlock` (or set OUTPOST_PASSPHRASE_FILE) and try again"
            )
        }
        let opened = try db.prepare("SELECT value FROM meta WHERE key = ?").bind(.text(keyCheckMeta)).first { row in
            try? row.withBytes(0) { try given.open(UnsafeRawBufferPointer($0), for: .meta(keyCheckMeta)) }
        }
        guard let opened, let opened, Array(opened) == keyCheckValue else {
            throw StoreError(
                .encrypted,
                "this key does not open the store at \(directory): it was sealed under another key (a wrong passphrase, or a keyfile of another store)"
            )
        }
        return given
    }

    // MARK: Meta values

    /// A `meta` value as stored: sealed for its key when the store has a cipher and the value is
    /// text or bytes (a type byte, `t` or `b`, then the value), as it is otherwise.
    static func storedMetaValue(_ value: SQLValue, key: String, cipher: StoreCipher?) throws -> SQLValue {
        guard let cipher, !plaintextMetaKeys.contains(key) else { return value }
        switch value {
        case .text(let text): return .blob(try cipher.sealed([UInt8(ascii: "t")] + Array(text.utf8), for: .meta(key)))
        case .blob(let bytes): return .blob(try cipher.sealed([UInt8(ascii: "b")] + bytes, for: .meta(key)))
        case .null, .integer, .real: return value
        }
    }

    /// A `meta` value read back (`value`, `typeof(value)` at `column` and `column + 1`).
    static func metaValue(_ row: Row, column: Int32, key: String, cipher: StoreCipher?) throws -> SQLValue {
        let type = row.text(column + 1)
        if let cipher, !plaintextMetaKeys.contains(key), type == "text" || type == "blob" {
            guard type == "blob" else {
                throw StoreError(.storage, "the store is damaged or was tampered with: the setting \(key) is not sealed")
            }
            let opened = try row.withBytes(column) { try cipher.open(UnsafeRawBufferPointer($0), for: .meta(key)) }
            switch opened.first {
            case UInt8(ascii: "t"): return .text(String(decoding: opened.dropFirst(), as: UTF8.self))
            case UInt8(ascii: "b"): return .blob(Array(opened.dropFirst()))
            default: throw StoreError(.storage, "the store is damaged: the setting \(key) holds an unknown kind of value")
            }
        }
        switch type {
        case "integer": return .integer(row.int(column))
        case "real": return .real(row.double(column))
        case "text": return .text(row.text(column) ?? "")
        case "blob": return .blob(row.bytes(column))
        default: return .null
        }
    }

    /// Reads one `meta` value without a store (while it is made or opened).
    static func metaValue(_ db: Database, _ key: String, cipher: StoreCipher?) throws -> SQLValue? {
        try db.prepare("SELECT value, typeof(value) FROM meta WHERE key = ?").bind(.text(key)).first { row in
            try metaValue(row, column: 0, key: key, cipher: cipher)
        }
    }

    /// Writes one `meta` value without a store (while it is made or opened).
    static func setMeta(_ db: Database, _ key: String, _ value: SQLValue, cipher: StoreCipher?) throws {
        try db.cached("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .bind(.text(key), try storedMetaValue(value, key: key, cipher: cipher)).run()
    }

    // MARK: Text columns (reporter names)

    /// A name as stored in a TEXT column: sealed and in base64 when the store has a cipher.
    static func storedText(_ text: String?, for place: SealedPlace, cipher: StoreCipher?) throws -> SQLValue {
        guard let text else { return .null }
        guard let cipher else { return .text(text) }
        return .text(Data(try cipher.sealed(Array(text.utf8), for: place)).base64EncodedString())
    }

    /// A TEXT column's name read back (nil when NULL).
    static func openedText(_ row: Row, _ column: Int32, for place: SealedPlace, cipher: StoreCipher?) throws -> String? {
        guard let text = row.text(column) else { return nil }
        guard let cipher else { return text }
        guard let sealed = Data(base64Encoded: text) else {
            throw StoreError(.storage, "the store is damaged or was tampered with: \(place) is not sealed")
        }
        let opened = try sealed.withUnsafeBytes { raw throws(StoreError) in try cipher.open(raw, for: place) }
        return String(decoding: opened, as: UTF8.self)
    }

    /// Bytes as stored in a BLOB column: sealed when the store has a cipher.
    static func storedBytes(_ bytes: [UInt8]?, for place: SealedPlace, cipher: StoreCipher?) throws -> SQLValue {
        guard let bytes else { return .null }
        guard let cipher else { return .blob(bytes) }
        return .blob(try cipher.sealed(bytes, for: place))
    }

    /// A BLOB column's bytes read back (nil when NULL).
    static func openedBytes(_ row: Row, _ column: Int32, for place: SealedPlace, cipher: StoreCipher?) throws -> [UInt8]? {
        guard !row.isNull(column) else { return nil }
        guard let cipher else { return row.bytes(column) }
        return Array(try row.withBytes(column) { try cipher.open(UnsafeRawBufferPointer($0), for: place) })
    }

    // MARK: Change bodies and record states

    /// Calls `body` with a sealed column's plaintext: the column itself in a plaintext store
    /// (no copy), else the value opened for `place` (built only then).
    func withOpened<T>(
        _ row: Row, _ column: Int32, at place: @autoclosure () throws -> SealedPlace,
        _ body: (UnsafeBufferPointer<UInt8>) throws -> T
    ) throws -> T {
        guard let cipher else { return try row.withBytes(column, body) }
        let opened = try row.withBytes(column) { try cipher.open(UnsafeRawBufferPointer($0), for: try place()) }
        return try opened.withUnsafeBytes { try body($0.bindMemory(to: UInt8.self)) }
    }

    /// The columns `change(fromRow:at:)` reads, in its order.
    static let changeColumns = "collection, record, replica, counter, body"

    /// The change of a row selected with `changeColumns` from column `first` on.
    func change(fromRow row: Row, at first: Int32) throws -> Change {
        try withOpened(row, first + 4, at: try changePlace(row, at: first)) { try Change(storedJSONBytes: $0) }
    }

    /// The plaintext body (wire JSON) of a row selected with `changeColumns` from column `first` on.
    func changeBody(fromRow row: Row, at first: Int32) throws -> [UInt8] {
        try withOpened(row, first + 4, at: try changePlace(row, at: first)) { Array($0) }
    }

    /// Where the body of a row selected with `changeColumns` from column `first` on lives.
    private func changePlace(_ row: Row, at first: Int32) throws -> SealedPlace {
        .changeBody(
            RecordKey(collection: row.text(first) ?? "", id: row.text(first + 1) ?? ""),
            Dot(replica: try replicaID(forIndex: row.int(first + 2)), counter: UInt64(max(0, row.int(first + 3)))))
    }
}
