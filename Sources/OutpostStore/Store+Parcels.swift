import Crypto
import OutpostCore

/// A sealed parcel a device carries for the server (issue 14): opaque bytes it cannot open.
public struct HeldParcel: Hashable, Sendable {
    /// SHA-256 of the bytes: the parcel's identity.
    public var hash: [UInt8]
    /// The parcel as sealed.
    public var bytes: [UInt8]

    /// Makes one.
    public init(hash: [UInt8], bytes: [UInt8]) {
        self.hash = hash
        self.bytes = bytes
    }
}

/// Sealed parcels: the server's parcel key (vouched for by its roster key, pinned by devices),
/// the parcels a device carries, and those the server has opened.
extension Store {
    /// The `meta` key of the server's parcel key pinned on a device (32-byte X25519 public key).
    static let parcelKeyMeta = "parcel_key"
    /// The `meta` key of the roster key's signature over the pinned parcel key's statement.
    static let parcelKeySignatureMeta = "parcel_key_sig"
    /// The `meta` key of the server's private parcel key (its 32 raw bytes; on the server only).
    static let parcelPrivateKeyMeta = "parcel_private_key"
    /// The largest parcel a device takes to carry.
    public static let maxParcelBytes = 16 << 20

    /// What the server's roster key signs to vouch for its parcel key: `"OUTPOST-PARCEL-KEY-1\n"`
    /// and the 32-byte key. A device that pinned the roster key can so take the parcel key from
    /// anyone (the server, a bundle, a peer) and no one can slip in a key of their own.
    public static func parcelKeyStatement(_ key: [UInt8]) -> [UInt8] { Array("OUTPOST-PARCEL-KEY-1\n".utf8) + key }

    /// The server's private parcel key, made once and kept in this (the server's) store.
    public func serverParcelKey() throws(StoreError) -> Curve25519.KeyAgreement.PrivateKey {
        let raw = try write { () throws -> [UInt8] in
            if case .blob(let raw)? = try metaValue(Store.parcelPrivateKeyMeta) { return raw }
            let key = Curve25519.KeyAgreement.PrivateKey()
            let raw = Array(key.rawRepresentation)
            try setMeta(Store.parcelPrivateKeyMeta, .blob(raw))
            return raw
        }
        do { return try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: raw) } catch {
            throw StoreError(.storage, "the server's parcel key in this store is damaged")
        }
    }

    /// Pins the server's parcel key, which must carry a valid signature of the pinned roster key
    /// over `parcelKeyStatement`. The first pinned key stays: another one is refused.
    public func pinParcelKey(_ key: [UInt8], signature: [UInt8]) throws(StoreError) {
        try write {
            guard key.count == 32 else { throw StoreError(.invalidValue, "a parcel key is a 32-byte X25519 public key") }
            guard case .blob(let rosterKey)? = try metaValue(Store.rosterKeyMeta) else {
                throw StoreError(
                    .invalidState,
                    "the server's roster key is not pinned yet, so its parcel key cannot be checked: sync once, or `outpost config --roster-key KEY`"
                )
            }
            guard SignatureCheck.isValid(signature, of: Store.parcelKeyStatement(key), publicKey: rosterKey) else {
                throw StoreError(
                    .invalidValue,
                    "the parcel key \(Base64URL.encode(key)) is not signed by the server's roster key this device pinned; nothing was changed"
                )
            }
            if case .blob(let pinned)? = try metaValue(Store.parcelKeyMeta) {
                guard pinned == key else {
                    throw StoreError(
                        .invalidState,
                        "the server's parcel key \(Base64URL.encode(key)) is not the one this device pinned (\(Base64URL.encode(pinned))); nothing was changed"
                    )
                }
                return
            }
            try setMeta(Store.parcelKeyMeta, .blob(key))
            try setMeta(Store.parcelKeySignatureMeta, .blob(signature))
        }
    }

    /// The pinned parcel key and the roster key's signature over it (to pass on to peers); nil
    /// until one is pinned.
    public func parcelKey() throws(StoreError) -> (key: [UInt8], signature: [UInt8])? {
        try read {
            guard case .blob(let key)? = try metaValue(Store.parcelKeyMeta),
                case .blob(let signature)? = try metaValue(Store.parcelKeySignatureMeta)
            else { return nil }
            return (key, signature)
        }
    }

    /// Keeps a parcel to forward to the server; false when it is held already. A parcel that is
    /// not one, is too large, or is sealed to another key than the pinned parcel key is refused.
    @discardableResult
    public func holdParcel(_ bytes: [UInt8]) throws(StoreError) -> Bool {
        guard bytes.count <= Store.maxParcelBytes else {
            throw StoreError(.invalidValue, "a parcel of \(bytes.count) bytes is larger than \(Store.maxParcelBytes); refused")
        }
        let magic = Array("OUTPOST-PARCEL-1\n".utf8)
        guard bytes.count > magic.count + 34, Array(bytes[0..<magic.count]) == magic else {
            throw StoreError(.invalidValue, "not a sealed parcel (it does not start with OUTPOST-PARCEL-1)")
        }
        let recipient = Array(bytes[magic.count..<magic.count + 32])
        let hash = Array(SHA256.hash(data: bytes))
        return try write {
            if case .blob(let pinned)? = try metaValue(Store.parcelKeyMeta), pinned != recipient {
                throw StoreError(
                    .invalidValue,
                    "the parcel is sealed to \(Base64URL.encode(recipient)), not to the server's parcel key this device pinned; refused"
                )
            }
            return try insertParcel(bytes, hash: hash)
        }
    }

    /// Stores a parcel to forward (inside a transaction); false when it is held already.
    func insertParcel(_ bytes: [UInt8], hash: [UInt8]? = nil) throws -> Bool {
        try db.cached("INSERT OR IGNORE INTO parcels (hash, bytes, received_ms) VALUES (?, ?, ?)")
            .bind(.blob(hash ?? Array(SHA256.hash(data: bytes))), .blob(bytes), .integer(systemClock())).run()
        return db.changes > 0
    }

    /// Parcels held for the server, oldest first, at most `limit`.
    public func heldParcels(limit: Int = Int.max) throws(StoreError) -> [HeldParcel] {
        try read {
            var out: [HeldParcel] = []
            try db.cached("SELECT hash, bytes FROM parcels ORDER BY received_ms, hash LIMIT ?")
                .bind(.integer(Int64(clamping: limit))).forEach { out.append(HeldParcel(hash: $0.bytes(0), bytes: $0.bytes(1))) }
            return out
        }
    }

    /// Forgets a parcel the server has taken.
    public func dropParcel(hash: [UInt8]) throws(StoreError) {
        try write { try db.cached("DELETE FROM parcels WHERE hash = ?").bind(.blob(hash)).run() }
    }

    /// How many parcels are held and their bytes in all.
    public func parcelStats() throws(StoreError) -> (count: Int, bytes: Int64) {
        try read {
            try db.cached("SELECT count(*), coalesce(sum(length(bytes)), 0) FROM parcels").first {
                (Int($0.int(0)), $0.int(1))
            } ?? (0, 0)
        }
    }

    /// On the server: whether the parcel `hash` was opened and applied before.
    public func wasParcelOpened(hash: [UInt8]) throws(StoreError) -> Bool {
        try read { try db.cached("SELECT 1 FROM parcels_opened WHERE hash = ?").bind(.blob(hash)).first { _ in true } ?? false }
    }

    /// On the server: records that the parcel `hash` was opened and its `changes` applied.
    public func recordParcelOpened(hash: [UInt8], token: Int64?, changes: Int) throws(StoreError) {
        try write {
            try db.cached("INSERT OR IGNORE INTO parcels_opened (hash, opened_ms, token, changes) VALUES (?, ?, ?, ?)").bind(
                .blob(hash), .integer(systemClock()), token.map { SQLValue.integer($0) } ?? .null, .integer(Int64(changes))
            ).run()
        }
    }
}
